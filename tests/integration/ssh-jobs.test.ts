import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allEvents, waitDone, waitFor } from '../helpers/jobs.ts';
import { hostBlock, remoteFixture, type RemoteFixture } from '../helpers/remote-hosts.ts';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';
import { sshdAvailable, startSshd, type TestSshd } from '../helpers/sshd.ts';

const available = sshdAvailable();

describe.skipIf(!available)('remote jobs over SSH (real sshd)', () => {
  let sshd: TestSshd;
  let fx: RemoteFixture;
  let server: TestServer;
  let admin: ReturnType<typeof client>;
  let silent: net.Server;

  beforeAll(async () => {
    sshd = await startSshd();
    fx = remoteFixture();
    // A port that accepts TCP and never says a word: a hung host.
    silent = net.createServer(() => {}).listen(0, '127.0.0.1');
    await new Promise((r) => silent.once('listening', r));
    const silentPort = (silent.address() as net.AddressInfo).port;
    fx.writeSshConfig([
      hostBlock('web', sshd, fx),
      'Host closed\n  HostName 127.0.0.1\n  Port 1\n',
      `Host hung\n  HostName 127.0.0.1\n  Port ${silentPort}\n  ConnectTimeout 1\n`,
    ].join('\n'));
    fx.trust(sshd.knownHostsLine());
    fx.writeEnvironment('test', 'template: debian\nvms:\n  web: { host: web }\n  closed: { host: closed }\n  hung: { host: hung }\n');
    server = await startTestServer({ ...fx.env, SSH_RECONNECT_ATTEMPTS: '8' });
    admin = client(server.base, { cookie: await login(server.base) });
  });

  afterAll(async () => {
    await server?.close();
    await sshd?.stop();
    silent?.close();
    fx?.cleanup();
  });

  const run = async (body: Record<string, unknown>) => {
    const r = await admin.post('/api/jobs', { type: 'ssh', host: 'test/web', ...body });
    expect(r.status, r.text).toBe(201);
    return r.json as { id: string; hostId: string; type: string };
  };

  it('runs a command on the host and stores stdout and stderr byte-exact with the exit code', async () => {
    const job = await run({ command: `printf 'a\\000b\\377'; printf 'oops\\n' >&2; exit 3` });
    expect(job.type).toBe('ssh');
    const done = await waitDone(admin, job.id);
    expect(done).toMatchObject({ status: 'failed', exitCode: 3 });
    const events = await allEvents(admin, job.id, 'base64');
    const bytes = (s: string) => Buffer.concat(events.filter((e) => e.stream === s).map((e) => Buffer.from(e.chunk, 'base64')));
    expect(bytes('stdout')).toEqual(Buffer.from([0x61, 0x00, 0x62, 0xff]));
    expect(bytes('stderr').toString()).toBe('oops\n');
    expect(bytes('system').toString()).toMatch(/on root@web \(127\.0\.0\.1:\d+\)/);
  });

  it('shares one connection per host between jobs', async () => {
    const [a, b] = await Promise.all([run({ command: 'sleep 0.5; echo a' }), run({ command: 'sleep 0.5; echo b' })]);
    await Promise.all([waitDone(admin, a.id), waitDone(admin, b.id)]);
    expect(server.app.ssh.pool.size).toBe(1);
  });

  it('streams output live, before the command ends', async () => {
    const job = await run({ command: 'echo first; sleep 30; echo never' });
    await waitFor(async () => (await allEvents(admin, job.id)).some((e) => e.chunk.includes('first')), 10_000, 'live output');
    expect((await admin.get(`/api/jobs/${job.id}`)).json.status).toBe('running');
    await admin.post(`/api/jobs/${job.id}/cancel`);
    await waitDone(admin, job.id);
  });

  it('cancel leaves nothing the job started running on the host', async () => {
    const job = await run({ command: 'sleep 4343 | cat; echo done' });
    await waitFor(async () => sshd.remoteProcesses(/sleep 4343/).length > 0, 10_000, 'the remote sleep');
    expect((await admin.post(`/api/jobs/${job.id}/cancel`)).status).toBe(202);
    expect(await waitDone(admin, job.id)).toMatchObject({ status: 'canceled' });
    await waitFor(async () => sshd.remoteProcesses(/sleep 4343/).length === 0, 8000, 'the remote sleep to end');
  });

  it('a dropped connection mid `tail -F` resumes with every line exactly once', async () => {
    const file = path.join(fx.dir, 'app.log');
    fs.writeFileSync(file, Array.from({ length: 150 }, (_, i) => `old ${i}\n`).join(''));
    const job = await run({ preset: { kind: 'tail', path: file } });
    // The preset starts with the last 100 lines.
    await waitFor(async () => (await outputOf(job.id)).includes('old 149\n'), 10_000, 'the first lines');
    for (let i = 0; i < 50; i++) fs.appendFileSync(file, `line ${i}\n`);
    await waitFor(async () => (await outputOf(job.id)).includes('line 49\n'), 10_000, 'line 49');

    await sshd.dropConnections();
    for (let i = 50; i < 100; i++) fs.appendFileSync(file, `line ${i}\n`);
    await waitFor(async () => (await outputOf(job.id)).includes('line 99\n'), 20_000, 'lines written while disconnected');
    for (let i = 100; i < 120; i++) fs.appendFileSync(file, `line ${i}\n`);
    await waitFor(async () => (await outputOf(job.id)).includes('line 119\n'), 10_000, 'lines after the reconnect');

    const expected = [
      ...Array.from({ length: 100 }, (_, i) => `old ${i + 50}\n`),
      ...Array.from({ length: 120 }, (_, i) => `line ${i}\n`),
    ].join('');
    expect(await outputOf(job.id)).toBe(expected);
    const system = (await allEvents(admin, job.id)).filter((e) => e.stream === 'system').map((e) => e.chunk).join('\n');
    expect(system).toMatch(/lost .*Reconnecting in/s);
    expect(system).toMatch(/Reconnected to web .*continuing at byte/);
    // The tail of the dropped connection stopped on the host by itself: only the new one runs.
    await waitFor(async () => sshd.remoteProcesses(/^tail -c/).length === 1, 8000, 'one remote tail');
    const spec = (await server.db.query('SELECT spec FROM jobs WHERE id = $1', [job.id])).rows[0].spec;
    await admin.post(`/api/jobs/${job.id}/cancel`);
    await waitDone(admin, job.id);
    await waitFor(async () => sshd.remoteProcesses(/^tail -c/).length === 0, 8000, 'no remote tail');
    expect(spec.position).toMatchObject({ kind: 'tail', file: expect.stringMatching(/^\d+:\d+$/) });
  });

  it('a host that refuses connections fails the job at once, saying so', async () => {
    const started = Date.now();
    const r = await admin.post('/api/jobs', { type: 'ssh', host: 'test/closed', command: 'true' });
    const done = await waitDone(admin, r.json.id);
    expect(done.status).toBe('failed');
    expect(Date.now() - started).toBeLessThan(5000);
    const text = (await allEvents(admin, r.json.id)).map((e) => e.chunk).join('\n');
    expect(text).toMatch(/Could not connect to closed \(127\.0\.0\.1:1\): connection refused/);
  });

  it('a host that never answers fails within its ConnectTimeout', async () => {
    const started = Date.now();
    const r = await admin.post('/api/jobs', { type: 'ssh', host: 'test/hung', preset: { kind: 'journalctl' } });
    const done = await waitDone(admin, r.json.id);
    expect(done.status).toBe('failed');
    expect(Date.now() - started).toBeLessThan(4000);
    expect((await allEvents(admin, r.json.id)).map((e) => e.chunk).join('\n')).toMatch(/no answer within 1 s \(ConnectTimeout\) \[ssh_unreachable\]/);
  });

  it('custom commands need terminal access; presets do not', async () => {
    await admin.post('/api/admin/users', { username: 'viewer', password: 'viewer-password', role: 'user' });
    const viewer = client(server.base, { cookie: await login(server.base, 'viewer', 'viewer-password') });
    const refused = await viewer.post('/api/jobs', { type: 'ssh', host: 'test/web', command: 'id' });
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toMatch(/preset/);
    const bad = await viewer.post('/api/jobs', { type: 'ssh', host: 'test/web', preset: { kind: 'tail', path: 'x; rm -rf /' } });
    expect(bad.status).toBe(400);
    // A path that would run a command if it reached a shell unquoted: the file is read, nothing runs.
    const weird = path.join(fx.dir, `it's; $(touch pwned) .log`);
    fs.writeFileSync(weird, 'weird-ok\n');
    const ok = await viewer.post('/api/jobs', { type: 'ssh', host: 'test/web', preset: { kind: 'tail', path: weird } });
    expect(ok.status, ok.text).toBe(201);
    await waitFor(async () => (await allEvents(viewer, ok.json.id)).some((e) => e.chunk.includes('weird-ok')), 10_000, 'the file to be read');
    await viewer.post(`/api/jobs/${ok.json.id}/cancel`);
    expect((await waitDone(viewer, ok.json.id)).status).toBe('canceled');
    expect(fs.existsSync(path.join(sshd.home, 'pwned'))).toBe(false);
  });

  it('an unknown host id is a 404, and a bad body names the problem', async () => {
    expect((await admin.post('/api/jobs', { type: 'ssh', host: 'test/nope', command: 'true' })).status).toBe(404);
    expect((await admin.post('/api/jobs', { type: 'ssh', host: 'test/web' })).status).toBe(400);
    expect((await admin.post('/api/jobs', { type: 'ssh', host: 'test/web', command: 'x', preset: { kind: 'journalctl' } })).status).toBe(400);
  });

  async function outputOf(id: string) {
    return (await allEvents(admin, id)).filter((e) => e.stream === 'stdout').map((e) => e.chunk).join('');
  }
});

describe.skipIf(!available)('a host that goes away for good', () => {
  let sshd: TestSshd;
  let fx: RemoteFixture;
  let server: TestServer;
  let admin: ReturnType<typeof client>;

  beforeAll(async () => {
    sshd = await startSshd();
    fx = remoteFixture();
    fx.writeSshConfig([
      hostBlock('flaky', sshd, fx),
      `Host proxied\n  HostName 127.0.0.1\n  ProxyCommand nc %h %p\n`,
    ].join('\n'));
    fx.trust(sshd.knownHostsLine());
    fx.writeEnvironment('test', 'vms:\n  flaky: { host: flaky }\n  proxied: { host: proxied }\n');
    server = await startTestServer({ ...fx.env, SSH_RECONNECT_ATTEMPTS: '2', SSH_RECONNECT_DELAY_MS: '50' });
    admin = client(server.base, { cookie: await login(server.base) });
  });

  afterAll(async () => {
    await server?.close();
    await sshd?.stop();
    fx?.cleanup();
  });

  it('a log stream fails clearly after the configured number of reconnect attempts', async () => {
    const file = path.join(fx.dir, 'gone.log');
    fs.writeFileSync(file, 'before\n');
    const r = await admin.post('/api/jobs', { type: 'ssh', host: 'test/flaky', preset: { kind: 'tail', path: file } });
    await waitFor(async () => (await allEvents(admin, r.json.id)).some((e) => e.chunk.includes('before')), 10_000, 'the first line');
    await sshd.stop();
    const done = await waitDone(admin, r.json.id, 20_000);
    expect(done.status).toBe('failed');
    const system = (await allEvents(admin, r.json.id)).filter((e) => e.stream === 'system').map((e) => e.chunk).join('\n');
    expect(system).toMatch(/Reconnecting in 50 ms \(attempt 1 of 2\)/);
    expect(system).toMatch(/Reconnect attempt 2 of 2 failed: .*connection refused/);
    expect(system).toMatch(/Gave up after 2 reconnect attempts/);
  });

  it('refuses ProxyCommand with a message naming where it is set', async () => {
    const r = await admin.post('/api/jobs', { type: 'ssh', host: 'test/proxied', command: 'true' });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'ssh_unsupported', message: expect.stringMatching(/ProxyCommand \(.*ssh_config:\d+\).*ProxyJump/) });
  });
});
