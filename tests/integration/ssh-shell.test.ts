import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allEvents, waitDone, waitFor } from '../helpers/jobs.ts';
import { hostBlock, remoteFixture, type RemoteFixture } from '../helpers/remote-hosts.ts';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';
import { sshdAvailable, startSshd, type TestSshd } from '../helpers/sshd.ts';
import { newTerminal, Tab } from '../helpers/terminals.ts';

const available = sshdAvailable();

describe.skipIf(!available)('SSH shells and logins (real sshd)', () => {
  let sshd: TestSshd;
  let fx: RemoteFixture;
  let server: TestServer;
  let cookie: string;
  let admin: ReturnType<typeof client>;
  let agent: ChildProcess | undefined;
  const agentSock = () => path.join(fx.dir, 'agent.sock');

  beforeAll(async () => {
    sshd = await startSshd({ encryptedClientKeyPassphrase: 'correct horse' });
    fx = remoteFixture();
    // An agent holding the client key, for a host configured with IdentityAgent and no key file.
    agent = spawn('ssh-agent', ['-D', '-a', agentSock()], { stdio: 'ignore' });
    await waitFor(async () => {
      try {
        execFileSync('ssh-add', [sshd.clientKey.privateKeyPath], { env: { SSH_AUTH_SOCK: agentSock() }, stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    }, 5000, 'ssh-agent');
    const base = (alias: string, extra: string[]) => [
      `Host ${alias}`, `  HostName ${sshd.host}`, `  Port ${sshd.port}`, `  User ${sshd.user}`,
      `  UserKnownHostsFile ${fx.knownHosts}`, ...extra.map((l) => `  ${l}`), '',
    ].join('\n');
    fx.writeSshConfig([
      hostBlock('box', sshd, fx),
      base('agent-box', [`IdentityAgent ${agentSock()}`, 'IdentityFile /nonexistent/key']),
      base('locked-box', [`IdentityFile ${sshd.encryptedClientKey!.privateKeyPath}`, 'IdentitiesOnly yes', 'IdentityAgent none']),
    ].join('\n'));
    fx.trust(sshd.knownHostsLine());
    fx.writeEnvironment('lab', 'vms:\n  box: { host: box }\n  agent-box: { host: agent-box }\n  locked-box: { host: locked-box }\n');
    server = await startTestServer(fx.env);
    cookie = await login(server.base);
    admin = client(server.base, { cookie });
  });

  afterAll(async () => {
    await server?.close();
    agent?.kill();
    await sshd?.stop();
    fx?.cleanup();
  });

  it('opens a shell on a host, takes typing, and restores the screen after a reload', async () => {
    const job = await newTerminal(admin, { host: 'lab/box' });
    expect(job.command).toMatch(/^ssh root@lab\/box$/);
    const first = await Tab.open(server.base, cookie, job.id);
    expect(first.ack.ok, JSON.stringify(first.ack)).toBe(true);
    first.tab.type('echo "remote-$((6*7))"; tty\r');
    await first.tab.see(/remote-42[\s\S]*\/dev\/pts\//);
    first.tab.close();

    // A second tab (a reload) gets the current screen back, not just the new output.
    const again = await Tab.open(server.base, cookie, job.id);
    expect(again.ack.ok).toBe(true);
    await again.tab.see(/remote-42/);
    again.tab.type('stty size\r');
    await again.tab.see(/24 80/);
    again.tab.socket.emit('resize', { jobId: job.id, cols: 100, rows: 30 });
    again.tab.type('stty size\r');
    await again.tab.see(/30 100/);

    again.tab.type('exit 4\r');
    await waitFor(async () => again.tab.exit, 10_000, 'the shell to exit');
    const done = await waitDone(admin, job.id);
    expect(done).toMatchObject({ status: 'failed', exitCode: 4, hostId: expect.any(String) });
    again.tab.close();

    // The recording replays the session.
    const recorded = (await allEvents(admin, job.id)).filter((e) => e.stream === 'pty').map((e) => e.chunk).join('');
    expect(recorded).toMatch(/remote-42/);
  });

  it('canceling a shell hangs up its processes on the host', async () => {
    const job = await newTerminal(admin, { host: 'lab/box' });
    const { tab } = await Tab.open(server.base, cookie, job.id);
    tab.type('sleep 5151\r');
    await waitFor(async () => sshd.remoteProcesses(/sleep 5151/).length > 0, 10_000, 'the remote sleep');
    await admin.post(`/api/jobs/${job.id}/cancel`);
    expect((await waitDone(admin, job.id)).status).toBe('canceled');
    await waitFor(async () => sshd.remoteProcesses(/sleep 5151/).length === 0, 8000, 'the remote sleep to end');
    tab.close();
  });

  it('logs in with a key held by the agent named in IdentityAgent', async () => {
    const r = await admin.post('/api/jobs', { type: 'ssh', host: 'lab/agent-box', command: 'echo agent-ok' });
    const done = await waitDone(admin, r.json.id);
    const log = (await allEvents(admin, r.json.id)).map((e) => e.chunk).join('\n');
    expect(done.status, log).toBe('success');
    expect(log).toContain('agent-ok');
  });

  it('an encrypted key needs its passphrase once; a wrong one is refused and nothing is logged', async () => {
    const keyPath = sshd.encryptedClientKey!.privateKeyPath;
    const r1 = await admin.post('/api/jobs', { type: 'ssh', host: 'lab/locked-box', command: 'echo unlocked' });
    await waitDone(admin, r1.json.id);
    expect((await allEvents(admin, r1.json.id)).map((e) => e.chunk).join('\n')).toMatch(new RegExp(`${keyPath}.*passphrase.*\\[key_locked\\]`, 's'));

    const wrong = await admin.post('/api/ssh/keys/unlock', { path: keyPath, passphrase: 'wrong' });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error.code).toBe('wrong_passphrase');
    // Only keys a connection needed: no probing which files exist, no reading other files.
    const other = await admin.post('/api/ssh/keys/unlock', { path: '/etc/passwd', passphrase: 'x' });
    const missing = await admin.post('/api/ssh/keys/unlock', { path: '/nonexistent/key', passphrase: 'x' });
    expect(other.status).toBe(400);
    expect(missing.json.error.message.replace('/nonexistent/key', 'P')).toBe(other.json.error.message.replace('/etc/passwd', 'P'));
    expect((await admin.post('/api/ssh/keys/unlock', { path: keyPath, passphrase: 'correct horse' })).status).toBe(204);

    const r2 = await admin.post('/api/jobs', { type: 'ssh', host: 'lab/locked-box', command: 'echo unlocked' });
    const done = await waitDone(admin, r2.json.id);
    expect(done.status).toBe('success');
    const audit = JSON.stringify((await admin.get('/api/admin/events')).json);
    expect(audit).toContain('ssh_key.unlock');
    expect(audit).not.toContain('correct horse');
  });

  it('shells need terminal access', async () => {
    await admin.post('/api/admin/users', { username: 'guest', password: 'guest-password', role: 'user' });
    const guest = client(server.base, { cookie: await login(server.base, 'guest', 'guest-password') });
    expect((await guest.post('/api/jobs', { type: 'terminal', host: 'lab/box' })).status).toBe(403);
  });
});
