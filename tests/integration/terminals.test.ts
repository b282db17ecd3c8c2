import path from 'node:path';
import headless from '@xterm/headless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allEvents, FIXTURES, waitDone, waitFor, writeRegistry } from '../helpers/jobs.ts';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';
import { newTerminal, sleep, Tab, type Client } from '../helpers/terminals.ts';

describe('interactive terminals', () => {
  let s: TestServer;
  let cookie: string;
  let c: Client;

  beforeAll(async () => {
    s = await startTestServer({
      MKCLI_REGISTRY: writeRegistry({ fixture: path.join(FIXTURES, 'terminals') }),
      JOB_CANCEL_GRACE_MS: '1000',
    });
    cookie = await login(s.base);
    c = client(s.base, { cookie });
  });
  afterAll(() => s.close());

  it('runs a login shell: typed commands echo their output', async () => {
    const job = await newTerminal(c);
    expect(job).toMatchObject({ type: 'terminal', status: 'running', command: 'bash -l' });
    const { tab, ack } = await Tab.open(s.base, cookie, job.id);
    expect(ack).toMatchObject({ ok: true, keyboard: true, cols: 80, rows: 24 });
    tab.type('echo hello\r');
    await tab.see(/[\r\n]hello\r\n/);
    tab.type('echo "$TERM $COLORTERM"\r');
    await tab.see(/xterm-256color truecolor\r\n/);
    tab.type('exit\r');
    await waitFor(async () => tab.exit, 10_000, 'exit event');
    expect(tab.exit).toMatchObject({ exitCode: 0, status: 'success' });
    tab.close();
  });

  it('applies a resize from the keyboard owner to the PTY', async () => {
    const job = await newTerminal(c);
    const { tab } = await Tab.open(s.base, cookie, job.id);
    tab.type('echo C=$(tput cols)x$(tput lines)\r');
    await tab.see(/C=80x24\r\n/);
    tab.socket.emit('resize', { jobId: job.id, cols: 100, rows: 30 });
    await waitFor(async () => tab.resizes.length > 0, 5000, 'resize event');
    expect(tab.resizes.at(-1)).toEqual({ cols: 100, rows: 30 });
    const mark = tab.length;
    tab.type('echo C=$(tput cols)x$(tput lines)\r');
    await tab.see(/C=100x30\r\n/, mark);
    await c.post(`/api/jobs/${job.id}/cancel`);
    const done = await waitDone(c, job.id);
    expect(done.status).toBe('canceled');
    const events = await allEvents(c, job.id);
    const resizes = events.filter((e) => e.stream === 'resize').map((e) => JSON.parse(e.chunk));
    expect(resizes).toEqual([{ cols: 80, rows: 24 }, { cols: 100, rows: 30 }]);
    tab.close();
  });

  it('interrupts a foreground program with Ctrl-C', async () => {
    const job = await newTerminal(c);
    const { tab } = await Tab.open(s.base, cookie, job.id);
    tab.type('sleep 100\r');
    await sleep(400);
    const t0 = Date.now();
    tab.type('\x03');
    tab.type('echo after-$((1+1))\r');
    await tab.see(/after-2\r\n/, 0, 5000);
    expect(Date.now() - t0).toBeLessThan(5000);
    tab.type('exit\r');
    await waitDone(c, job.id);
    tab.close();
  });

  it('ends with the shell: `exit 3` fails the job with exit code 3', async () => {
    const job = await newTerminal(c);
    const { tab } = await Tab.open(s.base, cookie, job.id);
    tab.type('exit 3\r');
    const done = await waitDone(c, job.id);
    expect(done).toMatchObject({ status: 'failed', exitCode: 3 });
    await waitFor(async () => tab.exit, 5000, 'exit event');
    expect(tab.exit).toMatchObject({ exitCode: 3, status: 'failed' });
    // Attaching to an ended terminal says so instead of streaming.
    const again = await tab.attach();
    expect(again).toMatchObject({ ok: true, ended: true, keyboard: false });
    tab.close();
  });

  it('keeps running without a socket and restores the screen on re-attach', async () => {
    const job = await newTerminal(c);
    const first = await Tab.open(s.base, cookie, job.id);
    first.tab.type(`printf '\\033[2J\\033[5;10HMARK'; sleep 60\r`);
    // The echo of the typed line contains "MARK" too; the escape byte only comes from printf.
    await first.tab.see(/\x1b\[5;10HMARK/);
    first.tab.close();
    await sleep(300);
    const list = (await c.get('/api/terminals')).json.terminals;
    const entry = list.find((t: { id: string }) => t.id === job.id);
    expect(entry).toMatchObject({ attached: 0, status: 'running', cols: 80, rows: 24 });
    expect(entry.idleSince).toBeTruthy();

    const second = await Tab.open(s.base, cookie, job.id);
    expect(second.ack).toMatchObject({ ok: true, keyboard: true, cols: 80, rows: 24 });
    await waitFor(async () => second.tab.received > 0, 5000, 'snapshot');
    const term = new headless.Terminal({ cols: second.ack.cols, rows: second.ack.rows, allowProposedApi: true });
    await new Promise<void>((resolve) => term.write(Buffer.concat(second.tab.chunks), resolve));
    const buf = term.buffer.active;
    const row5 = buf.getLine(buf.baseY + 4)!.translateToString();
    expect(row5.slice(9, 13)).toBe('MARK');
    expect(buf.cursorY).toBe(4);
    expect(buf.cursorX).toBe(13);
    term.dispose();
    const running = (await c.get('/api/terminals')).json.terminals.find((t: { id: string }) => t.id === job.id);
    expect(running).toMatchObject({ attached: 1, idleSince: null });
    second.tab.type('\x03exit\r');
    await waitDone(c, job.id);
    second.tab.close();
  });

  it('restores the full scrollback after a flood of plain lines, as if every line had been parsed', async () => {
    const job = await newTerminal(c);
    const first = await Tab.open(s.base, cookie, job.id);
    // Most of these lines never reach the server-side screen's parser (they scroll out
    // unparsed); the snapshot must still end with the exact last 5,000 lines.
    first.tab.type("seq 1 300000; printf '\\033[1mdone\\033[0m\\n'\r");
    await first.tab.see(/\x1b\[1mdone/);
    first.tab.close();

    const second = await Tab.open(s.base, cookie, job.id);
    await second.tab.see(/done/);
    await sleep(300);
    const term = new headless.Terminal({ cols: second.ack.cols, rows: second.ack.rows, scrollback: 5000, allowProposedApi: true });
    await new Promise<void>((resolve) => term.write(Buffer.concat(second.tab.chunks), resolve));
    const buf = term.buffer.active;
    const lines = Array.from({ length: buf.length }, (_, i) => buf.getLine(i)!.translateToString(true));
    const done = lines.indexOf('done');
    expect(done).toBeGreaterThan(4000);
    // Every line above "done" that is a number counts down by one to 300000.
    const numbers = lines.slice(0, done).filter((l) => /^\d+$/.test(l)).map(Number);
    expect(numbers.at(-1)).toBe(300000);
    expect(numbers.length).toBeGreaterThan(4900);
    numbers.forEach((n, i) => expect(n).toBe(300000 - (numbers.length - 1 - i)));
    term.dispose();
    second.tab.type('exit\r');
    await waitDone(c, job.id);
    second.tab.close();
  });

  it('bounds memory under a flood to a client that never acks, and Ctrl-C still stops it', async () => {
    const job = await newTerminal(c);
    const { tab } = await Tab.open(s.base, cookie, job.id);
    tab.acking = false;
    const rssBefore = process.memoryUsage().rss;
    tab.type('yes flood-line-of-some-length\r');
    await waitFor(async () => tab.received > 100_000, 10_000, 'flood output');
    await sleep(1500);
    const receivedAt = tab.received;
    const storedAt = (await c.get(`/api/jobs/${job.id}`)).json.bytes;
    await sleep(1500);
    // Held: the PTY is not read while the only client has >100,000 bytes unacknowledged.
    expect(tab.received).toBe(receivedAt);
    expect(tab.received).toBeLessThan(3 * 1024 * 1024);
    expect((await c.get(`/api/jobs/${job.id}`)).json.bytes - storedAt).toBeLessThan(256 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024);

    // Ctrl-C gets through while output is held.
    tab.type('\x03');
    // The stuck client is dropped to lagging after ~10 s; another tab then sees the prompt.
    await waitFor(async () => tab.lagging, 20_000, 'lagging');
    const other = await Tab.open(s.base, cookie, job.id);
    expect(other.ack.keyboard).toBe(false);
    const took = await other.tab.socket.timeout(5000).emitWithAck('take-keyboard', { jobId: job.id });
    expect(took).toMatchObject({ ok: true, keyboard: true });
    const mark = other.tab.length;
    other.tab.type('echo ok-$((2+3))\r');
    await other.tab.see(/ok-5\r\n/, mark, 15_000);
    other.tab.type('exit\r');
    await waitDone(c, job.id);
    tab.close();
    other.tab.close();
  }, 60_000);

  it('ignores input from a tab without the keyboard until it takes it', async () => {
    const job = await newTerminal(c);
    const a = await Tab.open(s.base, cookie, job.id);
    const b = await Tab.open(s.base, cookie, job.id);
    expect(a.ack.keyboard).toBe(true);
    expect(b.ack.keyboard).toBe(false);
    b.tab.type('echo from-b-$((1+1))\r');
    b.tab.socket.emit('resize', { jobId: job.id, cols: 50, rows: 10 });
    a.tab.type('echo from-a-$((3+4))\r');
    await b.tab.see(/from-a-7\r\n/);
    expect(a.tab.text()).not.toContain('from-b');
    expect(b.tab.resizes).toEqual([]);

    const took = await b.tab.socket.timeout(5000).emitWithAck('take-keyboard', { jobId: job.id });
    expect(took).toMatchObject({ ok: true, keyboard: true });
    await waitFor(async () => a.tab.keyboard === false && b.tab.keyboard === true, 5000, 'keyboard handover');
    const mark = a.tab.length;
    a.tab.type('echo from-a-again\r');
    b.tab.type('echo from-b-$((1+1))\r');
    await a.tab.see(/from-b-2\r\n/, mark);
    expect(a.tab.text(mark)).not.toContain('from-a-again');

    // The owner leaving hands the keyboard to the remaining tab.
    b.tab.close();
    await waitFor(async () => a.tab.keyboard === true, 5000, 'keyboard back to a');
    a.tab.type('exit\r');
    await waitDone(c, job.id);
    a.tab.close();
  });

  it('exports the recording as asciicast v2 without keystrokes unless asked to record them', async () => {
    const plain = await newTerminal(c, { cols: 90, rows: 20 });
    const p = await Tab.open(s.base, cookie, plain.id, { cols: 90, rows: 20 });
    p.tab.type('echo sec""ret-typed\r');
    await p.tab.see(/secret-typed\r\n/);
    p.tab.type('exit\r');
    await waitDone(c, plain.id);
    p.tab.close();

    const res = await fetch(`${s.base}/api/jobs/${plain.id}/asciicast`, { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-asciicast');
    const lines = (await res.text()).trimEnd().split('\n').map((l) => JSON.parse(l));
    const [header, ...events] = lines;
    expect(header).toMatchObject({ version: 2, width: 90, height: 20, title: 'bash -l' });
    expect(Number.isInteger(header.timestamp)).toBe(true);
    let last = 0;
    for (const e of events) {
      expect(e).toHaveLength(3);
      expect(typeof e[0]).toBe('number');
      expect(e[0]).toBeGreaterThanOrEqual(last);
      last = e[0];
      expect(['o', 'r', 'i']).toContain(e[1]);
      expect(typeof e[2]).toBe('string');
    }
    const output = events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
    expect(output).toContain('secret-typed\r\n');
    expect(events.some((e) => e[1] === 'i')).toBe(false);
    expect((await allEvents(c, plain.id)).some((e) => e.stream === 'input')).toBe(false);

    const recorded = await newTerminal(c, { recordInput: true });
    const r = await Tab.open(s.base, cookie, recorded.id);
    r.tab.type('echo typed-in\r');
    await r.tab.see(/[\r\n]typed-in\r\n/);
    r.tab.type('exit\r');
    await waitDone(c, recorded.id);
    r.tab.close();
    const input = (await allEvents(c, recorded.id)).filter((e) => e.stream === 'input').map((e) => e.chunk).join('');
    expect(input).toBe('echo typed-in\rexit\r');
    const cast = (await (await fetch(`${s.base}/api/jobs/${recorded.id}/asciicast`, { headers: { cookie } })).text())
      .trimEnd().split('\n').slice(1).map((l) => JSON.parse(l));
    expect(cast.filter((e) => e[1] === 'i').map((e) => e[2]).join('')).toBe('echo typed-in\rexit\r');

    // Keystrokes never reach the audit feed.
    const audit = JSON.stringify((await c.get('/api/events')).json);
    expect(audit).toContain('terminal.open');
    expect(audit).toContain('terminal.close');
    expect(audit).not.toContain('typed-in');
  });

  it('runs a make target in a PTY and keeps its last output', async () => {
    const job = await newTerminal(c, { cwd: 'fixture', target: 'burst' });
    expect(job.command).toBe('make burst');
    const done = await waitDone(c, job.id);
    expect(done).toMatchObject({ status: 'success', exitCode: 0 });
    const out = (await allEvents(c, job.id)).filter((e) => e.stream === 'pty').map((e) => e.chunk).join('');
    expect(out).toContain('20000\r\nlast line of burst\r\n');

    const hello = await newTerminal(c, { cwd: 'fixture', target: 'hello' });
    expect(hello.command).toBe('make hello');
    await waitDone(c, hello.id);
    expect((await allEvents(c, hello.id)).map((e) => e.chunk).join('')).toContain('hello from make');

    const bad = await c.post('/api/jobs', { type: 'terminal', cwd: 'fixture', target: 'nope' });
    expect(bad.status).toBe(400);
    const opt = await c.post('/api/jobs', { type: 'terminal', cwd: 'fixture', target: '--eval=x' });
    expect(opt.status).toBe(400);
    expect((await c.post('/api/jobs', { type: 'terminal', target: 'hello' })).status).toBe(400);
    expect((await c.post('/api/jobs', { type: 'terminal', cwd: 'nope' })).status).toBe(404);
  });

  it('opens in the project directory and accepts only shells listed in /etc/shells', async () => {
    const job = await newTerminal(c, { cwd: 'fixture', shell: '/bin/sh' });
    expect(job.command).toBe('sh -l');
    const { tab } = await Tab.open(s.base, cookie, job.id);
    tab.type('echo "D=$(pwd)"\r');
    await tab.see(new RegExp(`D=${path.join(FIXTURES, 'terminals').replace(/[/.]/g, '\\$&')}\\r\\n`));
    tab.type('exit\r');
    await waitDone(c, job.id);
    tab.close();
    for (const shell of ['/usr/bin/env', 'bash', '/tmp/../bin/bash']) {
      const r = await c.post('/api/jobs', { type: 'terminal', shell });
      expect(r.status, shell).toBe(400);
      expect(r.json.error.code).toBe('validation_failed');
    }
    expect((await c.post('/api/jobs', { type: 'terminal', cols: 0 })).status).toBe(400);
  });

  it('cancels a terminal with everything it started', async () => {
    const job = await newTerminal(c);
    const { tab } = await Tab.open(s.base, cookie, job.id);
    tab.type('sleep 300 & echo "bg=$!"\r');
    const pid = Number((await tab.see(/bg=(\d+)\r\n/))[1]);
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect((await c.post(`/api/jobs/${job.id}/cancel`)).status).toBe(202);
    const done = await waitDone(c, job.id);
    expect(done.status).toBe('canceled');
    await waitFor(async () => {
      try { process.kill(pid, 0); return false; } catch { return true; }
    }, 5000, 'background job to end');
    await waitFor(async () => tab.exit, 5000, 'exit event');
    expect((await c.get('/api/terminals')).json.terminals.some((t: { id: string }) => t.id === job.id)).toBe(false);
    tab.close();
  });
});
