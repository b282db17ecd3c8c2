import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobsSocket, waitDone, waitFor } from '../helpers/jobs.ts';
import { ADMIN_PASSWORD, client, login, startTestServer, type TestServer } from '../helpers/server.ts';
import { newTerminal, Tab, type Client } from '../helpers/terminals.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function attempt(base: string, username: string, password: string, headers: Record<string, string> = {}) {
  return client(base).post('/api/auth/login', { username, password }, headers);
}

async function userId(admin: Client, username: string): Promise<string> {
  const { users } = (await admin.get('/api/admin/users')).json;
  return users.find((u: { username: string }) => u.username === username).id;
}

async function auditActions(admin: Client, prefix: string): Promise<Array<{ action: string; metadata: Record<string, unknown> }>> {
  return (await admin.get(`/api/admin/events?action=${prefix}&limit=200`)).json.events;
}

describe('login throttling', () => {
  let s: TestServer;
  let admin: Client;
  beforeAll(async () => {
    // Short windows so the suite stays fast: 3 failures lock a username for 2 s, doubling.
    s = await startTestServer({
      LOGIN_MAX_FAILURES: '3', LOGIN_MAX_FAILURES_PER_ADDRESS: '6', LOGIN_LOCK_SECONDS: '2', LOGIN_LOCK_MAX_SECONDS: '8',
    });
    admin = client(s.base, { cookie: await login(s.base) });
    await admin.post('/api/admin/users', { username: 'dora', password: 'dora-password' });
  });
  afterAll(() => s.close());

  it('locks a username after repeated failures with 429 and Retry-After, even for the right password, then lets it in', async () => {
    // Each test comes from its own address (trusted loopback proxy header) so address counts stay apart.
    const from = { 'x-forwarded-for': '198.51.100.1' };
    for (let i = 0; i < 3; i++) expect((await attempt(s.base, 'dora', 'wrong-password', from)).status).toBe(401);
    const locked = await attempt(s.base, 'dora', 'dora-password', from);
    expect(locked.status).toBe(429);
    expect(locked.json.error.code).toBe('rate_limited');
    const retryAfter = Number(locked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    // The lock is on the username, wherever the next attempt comes from.
    expect((await attempt(s.base, 'dora', 'dora-password', { 'x-forwarded-for': '198.51.100.2' })).status).toBe(429);

    await sleep(retryAfter * 1000 + 100);
    expect((await attempt(s.base, 'dora', 'dora-password', from)).status).toBe(200);
    const locks = await auditActions(admin, 'login.locked');
    expect(locks.some((e) => e.metadata.key === 'user:dora' && e.metadata.seconds === 2)).toBe(true);
    expect((await auditActions(admin, 'login.failed')).filter((e) => e.metadata.username === 'dora')).toHaveLength(3);
  });

  it('treats an unknown username exactly like a known one', async () => {
    const from = { 'x-forwarded-for': '198.51.100.3' };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 4; i++) {
      const a = await attempt(s.base, 'admin', 'wrong-password', from);
      const b = await attempt(s.base, 'nobody-here', 'wrong-password', from);
      known.push(a.status);
      unknown.push(b.status);
      expect(a.json.error.message).toBe(b.json.error.message);
    }
    expect(known).toEqual([401, 401, 401, 429]);
    expect(unknown).toEqual(known);
    await admin.post(`/api/admin/users/${await userId(admin, 'admin')}/unlock`);
  });

  it('lets an admin unlock a locked-out user at once', async () => {
    const from = { 'x-forwarded-for': '198.51.100.4' };
    await admin.post('/api/admin/users', { username: 'eve', password: 'eve-password' });
    for (let i = 0; i < 3; i++) await attempt(s.base, 'eve', 'wrong-password', from);
    // Past the first lock the next failure doubles it.
    expect((await attempt(s.base, 'eve', 'eve-password', from)).status).toBe(429);
    const id = await userId(admin, 'eve');
    const listed = (await admin.get('/api/admin/users')).json.users.find((u: { id: string }) => u.id === id);
    expect(Date.parse(listed.lockedUntil)).toBeGreaterThan(Date.now());
    const unlocked = await admin.post(`/api/admin/users/${id}/unlock`);
    expect(unlocked.status).toBe(200);
    expect(unlocked.json.user.lockedUntil).toBeNull();
    expect((await attempt(s.base, 'eve', 'eve-password', from)).status).toBe(200);
    expect((await auditActions(admin, 'user.unlock')).some((e) => e.metadata.target === id)).toBe(true);
  });

  it('locks a client address that tries many usernames', async () => {
    const from = { 'x-forwarded-for': '203.0.113.9' };
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await attempt(s.base, `guess${i}`, 'wrong-password', from)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
    // A right password from that address waits too; the same user elsewhere is fine.
    expect((await attempt(s.base, 'admin', ADMIN_PASSWORD, from)).status).toBe(429);
    expect((await attempt(s.base, 'admin', ADMIN_PASSWORD, { 'x-forwarded-for': '203.0.113.10' })).status).toBe(200);
  });

  it('answers a burst of parallel guesses with at most a few hashes before the lock', async () => {
    const from = { 'x-forwarded-for': '198.51.100.5' };
    await admin.post('/api/admin/users', { username: 'fay', password: 'fay-password' });
    const statuses = await Promise.all(Array.from({ length: 20 }, () => attempt(s.base, 'fay', 'wrong-password', from).then((r) => r.status)));
    const evaluated = statuses.filter((x) => x === 401).length;
    // Two hashes run at a time and the lock is read after waiting for a slot: the third failure
    // locks, so at most one more in-flight attempt is evaluated.
    expect(evaluated).toBeGreaterThanOrEqual(3);
    expect(evaluated).toBeLessThanOrEqual(4);
    expect(statuses.filter((x) => x === 429)).toHaveLength(20 - evaluated);
  });
});

describe('security headers and cookies', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.close());

  it('sends the security headers on API answers, errors included', async () => {
    for (const p of ['/api/health', '/api/auth/me', '/api/nothing-here']) {
      const r = await fetch(`${s.base}${p}`);
      expect(r.headers.get('x-frame-options'), p).toBe('DENY');
      expect(r.headers.get('x-content-type-options'), p).toBe('nosniff');
      expect(r.headers.get('referrer-policy'), p).toBe('same-origin');
      expect(r.headers.get('content-security-policy'), p).toContain("frame-ancestors 'none'");
      expect(r.headers.get('permissions-policy'), p).toContain('camera=()');
      expect(r.headers.get('x-powered-by'), p).toBeNull();
    }
  });

  it('sets a plain HttpOnly cookie over HTTP', async () => {
    const r = await attempt(s.base, 'admin', ADMIN_PASSWORD);
    const setCookie = r.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^vmo_session=/);
    expect(setCookie).not.toMatch(/Secure/i);
  });

  it('sets a Secure __Host- cookie when a trusted proxy reports HTTPS, and reads it back', async () => {
    const r = await attempt(s.base, 'admin', ADMIN_PASSWORD, { 'x-forwarded-proto': 'https' });
    const setCookie = r.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^__Host-vmo_session=/);
    expect(setCookie).toMatch(/; Secure/i);
    expect(setCookie).toMatch(/; Path=\//i);
    expect(setCookie).not.toMatch(/Domain=/i);
    const c = client(s.base, { cookie: setCookie.split(';')[0] });
    expect((await c.get('/api/auth/me')).json.user.username).toBe('admin');
  });

  it('ignores X-Forwarded-Proto from a proxy it does not trust', async () => {
    const strict = await startTestServer({ TRUST_PROXY: 'false' });
    try {
      const r = await attempt(strict.base, 'admin', ADMIN_PASSWORD, { 'x-forwarded-proto': 'https' });
      expect(r.headers.get('set-cookie')).toMatch(/^vmo_session=/);
    } finally {
      await strict.close();
    }
  });
});

describe('account management', () => {
  let s: TestServer;
  let admin: Client;
  beforeAll(async () => {
    s = await startTestServer();
    admin = client(s.base, { cookie: await login(s.base) });
  });
  afterAll(() => s.close());

  it('changes the own password: current one required, other sessions end, this one and tokens stay', async () => {
    await admin.post('/api/admin/users', { username: 'gus', password: 'gus-password' });
    const here = await login(s.base, 'gus', 'gus-password');
    const elsewhere = await login(s.base, 'gus', 'gus-password');
    const me = client(s.base, { cookie: here });
    const token = (await me.post('/api/tokens', { name: 'script' })).json.token;
    const otherSocket = await jobsSocket(s.base, elsewhere);
    const ended = new Promise<string>((resolve) => otherSocket.on('session:ended', (m: { reason: string }) => resolve(m.reason)));

    const wrong = await me.post('/api/auth/password', { currentPassword: 'not-it', newPassword: 'gus-new-password' });
    expect(wrong.status).toBe(403);
    const short = await me.post('/api/auth/password', { currentPassword: 'gus-password', newPassword: 'short' });
    expect(short.status).toBe(400);
    expect((await me.post('/api/auth/password', { currentPassword: 'gus-password', newPassword: 'gus-new-password' })).status).toBe(204);

    expect((await me.get('/api/auth/me')).status).toBe(200);
    expect((await client(s.base, { cookie: elsewhere }).get('/api/auth/me')).status).toBe(401);
    expect((await client(s.base, { token }).get('/api/auth/me')).status).toBe(200);
    expect(await ended).toMatch(/password was changed/);
    await waitFor(async () => !otherSocket.connected, 5000, 'other session socket to close');
    expect((await attempt(s.base, 'gus', 'gus-password')).status).toBe(401);
    expect((await attempt(s.base, 'gus', 'gus-new-password')).status).toBe(200);
  });

  it('lets an admin reset a password: every session of the user ends', async () => {
    await admin.post('/api/admin/users', { username: 'hal', password: 'hal-password' });
    const hal = client(s.base, { cookie: await login(s.base, 'hal', 'hal-password') });
    const id = await userId(admin, 'hal');
    expect((await admin.post(`/api/admin/users/${id}/password`, { newPassword: 'x' })).status).toBe(400);
    expect((await admin.post(`/api/admin/users/${id}/password`, { newPassword: 'hal-reset-password' })).status).toBe(204);
    expect((await hal.get('/api/auth/me')).status).toBe(401);
    expect((await attempt(s.base, 'hal', 'hal-reset-password')).status).toBe(200);
    expect((await hal.post(`/api/admin/users/${id}/password`, { newPassword: 'hal-own-choice' })).status).toBe(401);
  });

  it('disables a user: sessions and tokens stop at once, terminals are detached, jobs stay; enabling restores tokens', async () => {
    await admin.post('/api/admin/users', { username: 'ida', password: 'ida-password', canTerminal: true });
    const cookie = await login(s.base, 'ida', 'ida-password');
    const ida = client(s.base, { cookie });
    const token = (await ida.post('/api/tokens', { name: 'ci' })).json.token;
    const job = await newTerminal(ida);
    const { tab } = await Tab.open(s.base, cookie, job.id);
    const id = await userId(admin, 'ida');

    const disabled = await admin.patch(`/api/admin/users/${id}`, { disabled: true });
    expect(disabled.status).toBe(200);
    expect(disabled.json.user.disabled).toBe(true);
    expect((await ida.get('/api/auth/me')).status).toBe(401);
    expect((await client(s.base, { token }).get('/api/auth/me')).status).toBe(401);
    await waitFor(async () => tab.revoked, 5000, 'terminal tab to be detached');
    expect(tab.revoked).toMatch(/disabled/);
    const refused = await attempt(s.base, 'ida', 'ida-password');
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toMatch(/disabled/);
    // The terminal itself keeps running and stays in the history; an admin can still end it.
    expect((await admin.get(`/api/jobs/${job.id}`)).json).toMatchObject({ status: 'running', userId: id });
    await admin.post(`/api/jobs/${job.id}/cancel`);
    await waitDone(admin, job.id);
    tab.close();

    expect((await admin.patch(`/api/admin/users/${id}`, { disabled: false })).json.user.disabled).toBe(false);
    expect((await client(s.base, { token }).get('/api/auth/me')).status).toBe(200);
    expect((await attempt(s.base, 'ida', 'ida-password')).status).toBe(200);
  });

  it('deletes a user: access ends, history stays, the name is free again', async () => {
    await admin.post('/api/admin/users', { username: 'jon', password: 'jon-password' });
    const jon = client(s.base, { cookie: await login(s.base, 'jon', 'jon-password') });
    const token = (await jon.post('/api/tokens', { name: 'ci' })).json.token;
    expect((await jon.get('/api/credits')).status).toBe(200); // opens the account with its starting grant
    const id = await userId(admin, 'jon');
    await s.db.query(`INSERT INTO jobs (type, command, status, user_id) VALUES ('make', 'make build', 'success', $1)`, [id]);

    // A user who still owns a machine cannot be deleted.
    const vm = await s.db.query(
      `INSERT INTO vms (name, owner_id, provider, state, vcpus, memory_mb, disk_gb) VALUES ('jon-vm', $1, 'docker', 'stopped', 1, 512, 10) RETURNING id`, [id],
    );
    const blocked = await admin.delete(`/api/admin/users/${id}`);
    expect(blocked.status).toBe(409);
    expect(blocked.json.error.message).toMatch(/owns 1 VM/);
    await s.db.query(`UPDATE vms SET state = 'destroyed' WHERE id = $1`, [vm.rows[0].id]);

    expect((await admin.delete(`/api/admin/users/${id}`)).status).toBe(204);
    expect((await jon.get('/api/auth/me')).status).toBe(401);
    expect((await client(s.base, { token }).get('/api/auth/me')).status).toBe(401);
    expect((await attempt(s.base, 'jon', 'jon-password')).status).toBe(401);
    expect((await admin.get('/api/admin/users')).json.users.map((u: { username: string }) => u.username)).not.toContain('jon');
    const jobs = await s.db.query('SELECT count(*)::int AS n FROM jobs WHERE user_id = $1', [id]);
    expect(jobs.rows[0].n).toBe(1);
    const ledger = await s.db.query('SELECT count(*)::int AS n FROM credit_entries WHERE user_id = $1', [id]);
    expect(ledger.rows[0].n).toBeGreaterThan(0);
    expect((await admin.post('/api/admin/users', { username: 'jon', password: 'new-jon-password' })).status).toBe(201);
    expect((await admin.delete(`/api/admin/users/${id}`)).status).toBe(404);
  });

  it('keeps at least one active admin and refuses to disable, delete or demote oneself', async () => {
    const me = await userId(admin, 'admin');
    expect((await admin.patch(`/api/admin/users/${me}`, { disabled: true })).status).toBe(409);
    expect((await admin.delete(`/api/admin/users/${me}`)).status).toBe(409);
    expect((await admin.patch(`/api/admin/users/${me}`, { role: 'user' })).status).toBe(409);
    // With a second admin, the first may be demoted by the second, but never the last one.
    await admin.post('/api/admin/users', { username: 'kim', password: 'kim-password', role: 'admin' });
    const kim = client(s.base, { cookie: await login(s.base, 'kim', 'kim-password') });
    expect((await kim.patch(`/api/admin/users/${me}`, { role: 'user' })).status).toBe(200);
    const kimId = await userId(kim, 'kim');
    expect((await kim.patch(`/api/admin/users/${kimId}`, { role: 'user' })).status).toBe(409);
    expect((await kim.patch(`/api/admin/users/${me}`, { role: 'admin' })).status).toBe(200);
  });

  it('gives API tokens an optional expiry and shows their last use', async () => {
    const created = await admin.post('/api/tokens', { name: 'week', expiresInDays: 7 });
    expect(created.status).toBe(201);
    const days = (Date.parse(created.json.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);
    expect((await admin.post('/api/tokens', { name: 'bad', expiresInDays: 0 })).status).toBe(400);
    const forever = (await admin.post('/api/tokens', { name: 'forever' })).json;
    expect(forever.expiresAt).toBeNull();

    const viaToken = client(s.base, { token: created.json.token });
    expect((await viaToken.get('/api/auth/me')).status).toBe(200);
    const listed = (await admin.get('/api/tokens')).json.tokens.find((t: { id: string }) => t.id === created.json.id);
    expect(Date.parse(listed.lastUsedAt)).toBeGreaterThan(Date.now() - 60_000);
    await s.db.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [created.json.id]);
    expect((await viaToken.get('/api/auth/me')).status).toBe(401);
  });
});
