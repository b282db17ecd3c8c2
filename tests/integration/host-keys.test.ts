import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allEvents, waitDone } from '../helpers/jobs.ts';
import { hostBlock, remoteFixture, type RemoteFixture } from '../helpers/remote-hosts.ts';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';
import { networkNamespacesAvailable, sshdAvailable, startSshd, type TestSshd } from '../helpers/sshd.ts';

const available = sshdAvailable();

describe.skipIf(!available)('host key verification (real sshd)', () => {
  let a: TestSshd; // ed25519 + rsa
  let rsaOnly: TestSshd; // known by its RSA key only
  let other: TestSshd; // its keys stand in for "a changed key"
  let fx: RemoteFixture;
  let server: TestServer;
  let admin: ReturnType<typeof client>;

  beforeAll(async () => {
    [a, rsaOnly, other] = await Promise.all([startSshd(), startSshd(), startSshd()]);
    fx = remoteFixture();
    const kh = (name: string) => path.join(fx.dir, `${name}_known_hosts`);
    const block = (alias: string, s: TestSshd, file: string) => hostBlock(alias, s, fx, [], file);
    // Each alias has its own known_hosts file, so the cases do not see each other's lines.
    fs.writeFileSync(kh('rsa'), rsaOnly.knownHostsLine(['ssh-rsa']));
    const changedLine = other.knownHostsLine(['ssh-ed25519']).replace(`]:${other.port} `, `]:${a.port} `);
    fs.writeFileSync(kh('changed'), changedLine);
    fs.writeFileSync(kh('revoked'), `${a.knownHostsLine()}@revoked * ${a.hostKeys[0].publicKey}\n`);
    fs.writeFileSync(kh('hashed'), a.knownHostsLine());
    execFileSync('ssh-keygen', ['-H', '-f', kh('hashed')], { stdio: 'ignore' });
    fs.writeFileSync(kh('unknown'), '');
    fx.writeSshConfig([
      block('fresh', a, kh('unknown')),
      block('rsa', rsaOnly, kh('rsa')),
      block('changed', a, kh('changed')),
      block('revoked', a, kh('revoked')),
      block('hashed', a, kh('hashed')),
    ].join('\n'));
    fx.writeEnvironment('keys', 'vms:\n' + ['fresh', 'rsa', 'changed', 'revoked', 'hashed'].map((n) => `  ${n}: { host: ${n} }\n`).join(''));
    server = await startTestServer(fx.env);
    admin = client(server.base, { cookie: await login(server.base) });
  });

  afterAll(async () => {
    await server?.close();
    await Promise.all([a, rsaOnly, other].map((s) => s?.stop()));
    fx?.cleanup();
  });

  /** Runs `echo ok` on a host and returns the job's final status and its whole log. */
  const attempt = async (host: string) => {
    const r = await admin.post('/api/jobs', { type: 'ssh', host: `keys/${host}`, command: 'echo ok' });
    expect(r.status, r.text).toBe(201);
    const done = await waitDone(admin, r.json.id);
    return { status: done.status, log: (await allEvents(admin, r.json.id)).map((e) => e.chunk).join('\n') };
  };

  it('refuses an unknown host with the fingerprint OpenSSH shows, until an admin accepts it', async () => {
    const first = await attempt('fresh');
    expect(first.status).toBe('failed');
    const ed = a.hostKeys.find((k) => k.type === 'ssh-ed25519')!;
    expect(first.log).toContain(ed.fingerprint);
    expect(first.log).toMatch(/\[host_key_unknown\]/);

    // The refused key is listed as pending; asking the server lists what it presents.
    const pending = (await admin.get('/api/known-hosts')).json;
    expect(pending).toContainEqual(expect.objectContaining({ host: `[127.0.0.1]:${a.port}`, sha256: ed.fingerprint, status: 'pending' }));
    const scan = await admin.post('/api/known-hosts', { host: 'keys/fresh' });
    expect(scan.status, scan.text).toBe(200);
    expect(scan.json.fingerprints.map((f: { sha256: string }) => f.sha256).sort()).toEqual(a.hostKeys.map((k) => k.fingerprint).sort());

    // A fingerprint the server does not present cannot be accepted.
    const wrong = await admin.post('/api/known-hosts/accept', { host: 'keys/fresh', sha256: other.hostKeys[0].fingerprint });
    expect(wrong.status).toBe(409);
    // Accepted by the name the keys list shows ([host]:port).
    const ok = await admin.post('/api/known-hosts/accept', { host: `[127.0.0.1]:${a.port}`, type: 'ssh-ed25519', sha256: ed.fingerprint });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.json).toMatchObject({ status: 'trusted', acceptedBy: 'admin' });

    const second = await attempt('fresh');
    expect(second.status).toBe('success');
    expect(second.log).toContain('ok');

    // Asked again, the host's RSA key is an extra key to accept, not a "changed" one.
    const rescan = await admin.post('/api/known-hosts', { host: 'keys/fresh' });
    const byType = Object.fromEntries(rescan.json.fingerprints.map((f: { type: string; status: string }) => [f.type, f.status]));
    expect(byType).toEqual({ 'ssh-ed25519': 'trusted', 'ssh-rsa': 'pending' });

    const audit = (await admin.get('/api/admin/events')).json.events.map((e: { action: string }) => e.action);
    expect(audit).toContain('host_key.accept');

    // Revoking trust in the console refuses the host again.
    expect((await admin.delete(`/api/known-hosts/${ok.json.id}`)).status).toBe(204);
    expect((await attempt('fresh')).status).toBe('failed');
    expect((await admin.get('/api/admin/events')).json.events.map((e: { action: string }) => e.action)).toContain('host_key.revoke');
  });

  it('connects to a host known only by its RSA key (asks for the key type it knows)', async () => {
    const r = await attempt('rsa');
    expect(r.log).not.toMatch(/host_key/);
    expect(r.status).toBe('success');
  });

  it('refuses a changed key, naming both fingerprints', async () => {
    const r = await attempt('changed');
    expect(r.status).toBe('failed');
    expect(r.log).toMatch(/\[host_key_changed\]/);
    expect(r.log).toContain(a.hostKeys.find((k) => k.type === 'ssh-ed25519')!.fingerprint);
    expect(r.log).toContain(other.hostKeys.find((k) => k.type === 'ssh-ed25519')!.fingerprint);
  });

  it('refuses a key marked @revoked even where another line trusts it', async () => {
    const r = await attempt('revoked');
    expect(r.status).toBe('failed');
    expect(r.log).toMatch(/@revoked.*\[host_key_revoked\]/s);
  });

  it('accepts a hashed known_hosts entry', async () => {
    const r = await attempt('hashed');
    expect(r.log).not.toMatch(/host_key/);
    expect(r.status).toBe('success');
  });

  it('known-hosts administration is for admins only', async () => {
    await admin.post('/api/admin/users', { username: 'plain', password: 'plain-password', role: 'user' });
    const plain = client(server.base, { cookie: await login(server.base, 'plain', 'plain-password') });
    expect((await plain.get('/api/known-hosts')).status).toBe(403);
    expect((await plain.post('/api/known-hosts/accept', { host: 'keys/fresh', sha256: a.hostKeys[0].fingerprint })).status).toBe(403);
    expect((await plain.get('/api/ssh/resolve?host=fresh')).status).toBe(403);
  });
});

describe.skipIf(!available || !networkNamespacesAvailable())('ProxyJump (real sshd behind a jump host)', () => {
  let jump: TestSshd;
  let target: TestSshd;
  let fx: RemoteFixture;
  let server: TestServer;
  let admin: ReturnType<typeof client>;

  beforeAll(async () => {
    jump = await startSshd({ jumpHost: true });
    target = await startSshd({ behind: jump, clientKey: jump.clientKey });
    fx = remoteFixture();
    fx.writeSshConfig([
      hostBlock('bastion', jump, fx),
      // The target's address is only valid inside the jump host's network.
      hostBlock('inner', target, fx, ['ProxyJump bastion']),
    ].join('\n'));
    fx.trust(jump.knownHostsLine());
    fx.writeEnvironment('private', 'vms:\n  inner: { host: inner }\n');
    server = await startTestServer(fx.env);
    admin = client(server.base, { cookie: await login(server.base) });
  });

  afterAll(async () => {
    await server?.close();
    await target?.stop();
    await jump?.stop();
    fx?.cleanup();
  });

  it('checks each hop with its own key: the target is refused until its key is accepted, then runs through the jump host', async () => {
    const r1 = await admin.post('/api/jobs', { type: 'ssh', host: 'private/inner', command: 'echo $SSH_CONNECTION' });
    const d1 = await waitDone(admin, r1.json.id);
    expect(d1.status).toBe('failed');
    const log1 = (await allEvents(admin, r1.json.id)).map((e) => e.chunk).join('\n');
    expect(log1).toMatch(/inner .*not trusted.*\[host_key_unknown\]/s);
    expect(log1).toContain(target.hostKeys.find((k) => k.type === 'ssh-ed25519')!.fingerprint);

    const host = (await admin.get('/api/hosts/private%2Finner')).json;
    expect(host.via).toEqual([`bastion (127.0.0.1:${jump.port})`]);

    const accept = await admin.post('/api/known-hosts/accept', { host: 'private/inner', sha256: target.hostKeys[0].fingerprint });
    expect(accept.status, accept.text).toBe(201);

    const r2 = await admin.post('/api/jobs', { type: 'ssh', host: 'private/inner', command: 'echo via-jump' });
    const d2 = await waitDone(admin, r2.json.id);
    const log2 = (await allEvents(admin, r2.json.id)).map((e) => e.chunk).join('\n');
    expect(d2.status, log2).toBe('success');
    expect(log2).toContain('via-jump');
    expect(log2).toMatch(/via bastion/);
    expect(target.log()).toMatch(/Accepted publickey/);
  });
});
