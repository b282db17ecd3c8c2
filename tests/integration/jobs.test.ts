import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';
import { allEvents, FIXTURES, rawLog, waitDone, waitFor, writeRegistry } from '../helpers/jobs.ts';

describe('make jobs', () => {
  let s: TestServer;
  let cookie: string;
  let c: ReturnType<typeof client>;
  let userC: ReturnType<typeof client>;
  const run = async (target: string, variables?: Record<string, string>, as = c) =>
    as.post('/api/jobs', { type: 'make', project: 'fixture', target, ...(variables ? { variables } : {}) });

  beforeAll(async () => {
    process.env.VMO_TEST_SECRET = 'must-not-leak';
    s = await startTestServer({ MKCLI_REGISTRY: writeRegistry({ fixture: path.join(FIXTURES, 'jobs') }) });
    cookie = await login(s.base);
    c = client(s.base, { cookie });
    await c.post('/api/admin/users', { username: 'bob', password: 'bob-password', role: 'user' });
    userC = client(s.base, { cookie: await login(s.base, 'bob', 'bob-password') });
  });
  afterAll(async () => {
    delete process.env.VMO_TEST_SECRET;
    await s.close();
  });

  it('runs a target and records output, status, exit code, bytes and timing', async () => {
    const created = await run('hello');
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ type: 'make', projectAlias: 'fixture', target: 'hello', command: 'make hello' });
    const job = await waitDone(c, created.json.id);
    expect(job).toMatchObject({ status: 'success', exitCode: 0 });
    expect(job.startedAt && job.finishedAt).toBeTruthy();
    const log = (await rawLog(s.base, cookie, job.id)).toString();
    expect(log).toBe('hello from make\nsecond line\n');
    expect(job.bytes).toBeGreaterThanOrEqual(Buffer.byteLength(log));
    const events = await allEvents(c, job.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(job.lastSeq).toBe(events.length);
    expect(events.some((e) => e.stream === 'system' && /Exited with code 0/.test(e.chunk))).toBe(true);
  });

  it('marks a failing target failed with its exit code and keeps stderr apart', async () => {
    const job = await waitDone(c, (await run('fail')).json.id);
    expect(job).toMatchObject({ status: 'failed', exitCode: 2 });
    const events = await allEvents(c, job.id);
    expect(events.find((e) => e.stream === 'stderr')?.chunk).toContain('about to fail');
  });

  it('lets a target open /dev/stdout and /dev/stderr, each output kept on its stream', async () => {
    const job = await waitDone(c, (await run('devfiles')).json.id);
    const events = await allEvents(c, job.id);
    const text = (stream: string) => events.filter((e) => e.stream === stream).map((e) => e.chunk).join('');
    expect(text('system')).not.toMatch(/No such device/);
    expect(job).toMatchObject({ status: 'success', exitCode: 0 });
    expect(text('stdout')).toBe('to dev stdout\nthrough tee\n');
    expect(text('stderr')).toBe('to dev stderr\nthrough tee\n');
  });

  it('keeps NUL bytes and invalid UTF-8 byte-exact', async () => {
    const job = await waitDone(c, (await run('binary')).json.id);
    const log = await rawLog(s.base, cookie, job.id);
    expect(log.equals(Buffer.from([0x61, 0x00, 0x62, 0xff, 0x63, 0x0a]))).toBe(true);
    const b64 = (await allEvents(c, job.id, 'base64')).filter((e) => e.stream === 'stdout');
    expect(Buffer.concat(b64.map((e) => Buffer.from(e.chunk, 'base64'))).equals(log)).toBe(true);
    const text = (await allEvents(c, job.id)).filter((e) => e.stream === 'stdout').map((e) => e.chunk).join('');
    expect(text).toBe('a\u0000b\ufffdc\n');
  });

  it('keeps a multibyte character that arrives split across two reads', async () => {
    const job = await waitDone(c, (await run('split')).json.id);
    const text = (await allEvents(c, job.id)).filter((e) => e.stream === 'stdout').map((e) => e.chunk);
    expect(text.join('')).toBe('€ euro\n');
    expect(text.join('')).not.toContain('\ufffd');
    expect((await rawLog(s.base, cookie, job.id)).toString()).toBe('€ euro\n');
  });

  it('keeps carriage-return progress output byte-exact', async () => {
    const job = await waitDone(c, (await run('progress')).json.id);
    expect((await rawLog(s.base, cookie, job.id)).toString()).toBe('\r1%\r2%\r3%\n');
  });

  it('passes validated variables as make overrides', async () => {
    const job = await waitDone(c, (await run('echo-var', { NAME: 'hello world' }, userC)).json.id);
    expect((await rawLog(s.base, cookie, job.id)).toString()).toBe('NAME=hello world\n');
  });

  it('refuses unknown targets, option-like targets and expanding variables', async () => {
    const cases: Array<[string, Record<string, string> | undefined]> = [
      ['no-such-target', undefined],
      ['--eval=all:;@touch /tmp/pwned', undefined],
      ['-fMakefile', undefined],
      ['echo-var', { NAME: '$(shell touch /tmp/pwned)' }],
      ['echo-var', { NAME: '`id`' }],
      ['echo-var', { 'BAD NAME': 'x' }],
      ['echo-var', { MAKEFLAGS: '--eval=x' }],
      ['echo-var', { SHELL: '/bin/evil' }],
    ];
    for (const [target, vars] of cases) {
      const r = await run(target, vars, userC);
      expect(r.status, `${target} ${JSON.stringify(vars)}`).toBe(400);
      expect(r.json.error.code).toBe('validation_failed');
    }
    expect((await run('hello', undefined, client(s.base))).status).toBe(401);
    expect((await c.post('/api/jobs', { type: 'make', project: 'nope', target: 'hello' })).status).toBe(404);
  });

  it('gives the process an allow-listed environment, not the server\'s', async () => {
    const job = await waitDone(c, (await run('env')).json.id);
    const env = (await rawLog(s.base, cookie, job.id)).toString();
    expect(env).toMatch(/^PATH=/m);
    expect(env).not.toContain('must-not-leak');
    expect(env).not.toContain('DATABASE_URL');
  });

  it('cancels the whole process group, grandchildren included', async () => {
    const created = await run('tree');
    const pid = await waitFor(async () => {
      const m = /grandchild (\d+)/.exec((await rawLog(s.base, cookie, created.json.id)).toString());
      return m ? Number(m[1]) : null;
    }, 10_000, 'grandchild pid');
    expect(() => process.kill(pid, 0)).not.toThrow();
    const cancel = await c.post(`/api/jobs/${created.json.id}/cancel`);
    expect(cancel.status).toBe(202);
    const job = await waitDone(c, created.json.id);
    expect(job.status).toBe('canceled');
    await waitFor(async () => {
      try { process.kill(pid, 0); return false; } catch { return true; }
    }, 10_000, 'grandchild to die');
    const events = await allEvents(c, job.id);
    expect(events.some((e) => e.stream === 'system' && /Canceled by admin/.test(e.chunk))).toBe(true);
    expect((await c.post(`/api/jobs/${job.id}/cancel`)).status).toBe(409);
  });

  it('keeps other users out of a job and lists only their own', async () => {
    const mine = await waitDone(c, (await run('hello')).json.id);
    expect((await userC.get(`/api/jobs/${mine.id}`)).status).toBe(404);
    expect((await userC.get(`/api/jobs/${mine.id}/events`)).status).toBe(404);
    expect((await userC.get(`/api/jobs/${mine.id}/log`)).status).toBe(404);
    const list = await userC.get('/api/jobs');
    expect(list.json.jobs.every((j: { username: string }) => j.username === 'bob')).toBe(true);
    const adminList = await c.get('/api/jobs?limit=200');
    expect(adminList.json.jobs.some((j: { id: string }) => j.id === mine.id)).toBe(true);
  });

  it('pages job history with filters and a stable cursor', async () => {
    const first = await c.get('/api/jobs?limit=2&project=fixture');
    expect(first.json.jobs).toHaveLength(2);
    const second = await c.get(`/api/jobs?limit=2&project=fixture&before=${encodeURIComponent(first.json.next)}`);
    const ids = [...first.json.jobs, ...second.json.jobs].map((j: { id: string }) => j.id);
    expect(new Set(ids).size).toBe(ids.length);
    const failed = await c.get('/api/jobs?status=failed');
    expect(failed.json.jobs.length).toBeGreaterThan(0);
    expect(failed.json.jobs.every((j: { status: string }) => j.status === 'failed')).toBe(true);
    expect((await c.get('/api/jobs?before=garbage')).status).toBe(400);
  });

  it('re-runs a job as a new job with the same target and variables', async () => {
    const first = await waitDone(c, (await run('echo-var', { NAME: 'again' })).json.id);
    const again = await c.post(`/api/jobs/${first.id}/rerun`);
    expect(again.status).toBe(201);
    expect(again.json.id).not.toBe(first.id);
    await waitDone(c, again.json.id);
    expect((await rawLog(s.base, cookie, again.json.id)).toString()).toBe('NAME=again\n');
  });

  it('searches a log server-side with line numbers', async () => {
    const job = await waitDone(c, (await run('count', { N: '3000' })).json.id);
    const r = await c.get(`/api/jobs/${job.id}/search?q=2999`);
    // Line 1 is the "$ make …" system line, so number n is on line n + 1.
    expect(r.json.hits).toEqual([{ line: 3000, text: '2999' }]);
    const re = await c.get(`/api/jobs/${job.id}/search?q=${encodeURIComponent('^1\\d{3}$')}&regex=1&limit=5`);
    expect(re.json.total).toBe(1000);
    expect(re.json.hits).toHaveLength(5);
  });

  it('stops an events page near maxBytes, and the pages together hold every byte once', async () => {
    const job = await waitDone(c, (await run('count', { N: '200000' })).json.id);
    const whole = await rawLog(s.base, cookie, job.id);
    const out: Buffer[] = [];
    let after = 0;
    let pages = 0;
    for (;;) {
      const r = await c.get(`/api/jobs/${job.id}/events?after=${after}&limit=10000&maxBytes=16384&encoding=base64`);
      expect(r.status).toBe(200);
      const { events } = r.json as { events: Array<{ seq: number; stream: string; chunk: string }> };
      if (!events.length) break;
      pages++;
      const sizes = events.map((e) => Buffer.from(e.chunk, 'base64').length);
      // Rows are added while the page is under the bound: it ends within one row of it.
      expect(sizes.slice(0, -1).reduce((a, b) => a + b, 0)).toBeLessThan(16384);
      expect(events[0].seq).toBe(after + 1);
      for (const e of events) if (e.stream === 'stdout') out.push(Buffer.from(e.chunk, 'base64'));
      after = events[events.length - 1].seq;
    }
    expect(pages).toBeGreaterThan(whole.length / (16384 + 65536));
    expect(Buffer.concat(out).equals(whole)).toBe(true);
    expect((await c.get(`/api/jobs/${job.id}/events?maxBytes=100`)).status).toBe(400);
  });
});
