import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, login, startTestServer, type TestServer, ADMIN_PASSWORD } from '../helpers/server.ts';
import { testAuthService } from '../helpers/auth.ts';
import { AuditLog } from '../../server/platform/audit.ts';
import { createLogger } from '../../server/platform/logger.ts';
import { freshDatabase } from '../helpers/db.ts';

describe('authentication over HTTP', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.close());

  it('answers health without auth', async () => {
    const r = await client(s.base).get('/api/health');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'ok', db: 'ok' });
  });

  it('refuses every protected route without credentials', async () => {
    const anon = client(s.base);
    for (const p of ['/api/auth/me', '/api/tokens', '/api/admin/users', '/api/events', '/api/anything']) {
      const r = await anon.get(p);
      expect(r.status, p).toBe(401);
      expect(r.json.error.code).toBe('unauthenticated');
    }
  });

  it('logs in with an HttpOnly SameSite=Lax cookie, answers me, and logs out', async () => {
    const res = await fetch(`${s.base}/api/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    const cookie = setCookie.split(';')[0];
    const c = client(s.base, { cookie });
    const me = await c.get('/api/auth/me');
    expect(me.json.user).toMatchObject({ username: 'admin', role: 'admin' });
    expect(me.json.user.passwordHash).toBeUndefined();
    expect((await c.post('/api/auth/logout')).status).toBe(200);
    expect((await c.get('/api/auth/me')).status).toBe(401);
  });

  it('rejects a wrong password and an unknown user with the same 401', async () => {
    const a = await client(s.base).post('/api/auth/login', { username: 'admin', password: 'wrong-password' });
    const b = await client(s.base).post('/api/auth/login', { username: 'nobody', password: 'wrong-password' });
    expect([a.status, b.status]).toEqual([401, 401]);
    expect(a.json.error.message).toBe(b.json.error.message);
  });

  it('validates the login body', async () => {
    const r = await client(s.base).post('/api/auth/login', { username: 'admin' });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('validation_failed');
  });

  it('authenticates with an API token until it is deleted', async () => {
    const admin = client(s.base, { cookie: await login(s.base) });
    const created = await admin.post('/api/tokens', { name: 'ci' });
    expect(created.status).toBe(201);
    expect(created.json.token).toMatch(/^vmo_/);
    const viaToken = client(s.base, { token: created.json.token });
    expect((await viaToken.get('/api/auth/me')).json.user.username).toBe('admin');
    const list = await admin.get('/api/tokens');
    expect(list.json.tokens.map((t: { name: string }) => t.name)).toContain('ci');
    expect(JSON.stringify(list.json)).not.toContain(created.json.token);
    expect((await admin.delete(`/api/tokens/${created.json.id}`)).status).toBe(204);
    expect((await viaToken.get('/api/auth/me')).status).toBe(401);
    expect((await client(s.base, { token: 'vmo_forged' }).get('/api/auth/me')).status).toBe(401);
  });

  it('keeps admin routes for admins', async () => {
    const admin = client(s.base, { cookie: await login(s.base) });
    const made = await admin.post('/api/admin/users', { username: 'alice', password: 'alice-password', role: 'user' });
    expect(made.status).toBe(201);
    expect(made.json.user).toMatchObject({ username: 'alice', role: 'user', canTerminal: false });
    expect((await admin.post('/api/admin/users', { username: 'alice', password: 'alice-password' })).status).toBe(409);
    const alice = client(s.base, { cookie: await login(s.base, 'alice', 'alice-password') });
    expect((await alice.get('/api/auth/me')).json.user.username).toBe('alice');
    const denied = await alice.get('/api/admin/users');
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('forbidden');
  });

  it('refuses a state-changing request from a foreign Origin', async () => {
    const cookie = await login(s.base);
    const c = client(s.base, { cookie });
    const foreign = await c.post('/api/tokens', { name: 'x' }, { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    const crossSite = await c.post('/api/tokens', { name: 'x' }, { 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    const own = await c.post('/api/tokens', { name: 'x' }, { origin: s.base });
    expect(own.status).toBe(201);
    const login403 = await client(s.base).post('/api/auth/login', { username: 'admin', password: ADMIN_PASSWORD }, { origin: 'http://evil.example' });
    expect(login403.status).toBe(403);
  });

  it('records logins in the audit feed: your own for everyone, all of it for admins', async () => {
    const c = client(s.base, { cookie: await login(s.base) });
    const feed = await c.get('/api/events');
    expect(feed.json.events.some((e: { action: string }) => e.action === 'login')).toBe(true);
    await client(s.base).post('/api/auth/login', { username: 'admin', password: 'wrong-password' });
    const all = await c.get('/api/admin/events?limit=5');
    expect(all.json.events.length).toBeLessThanOrEqual(5);
    expect(all.json.events.some((e: { action: string; severity: string }) => e.action === 'login.failed' && e.severity === 'warning')).toBe(true);
    const older = await c.get(`/api/admin/events?before=${all.json.events.at(-1).id}`);
    expect(older.json.events.every((e: { id: number }) => e.id < all.json.events.at(-1).id)).toBe(true);
    const alice = client(s.base, { cookie: await login(s.base, 'alice', 'alice-password') });
    expect((await alice.get('/api/admin/events')).status).toBe(403);
    const aliceId = (await alice.get('/api/auth/me')).json.user.id;
    const own = (await alice.get('/api/events')).json.events;
    expect(own.length).toBeGreaterThan(0);
    expect(own.every((e: { userId: string }) => e.userId === aliceId)).toBe(true);
  });
});

describe('admin bootstrap', () => {
  it('creates admin once with a random password printed once, and never again', async () => {
    const database = await freshDatabase();
    const log = createLogger('silent');
    const svc = testAuthService(database.db, new AuditLog(database.db, log), log);
    const printed: string[] = [];
    await svc.bootstrapAdmin(undefined, (l) => printed.push(l));
    expect(printed).toHaveLength(1);
    const password = /password: (\S+)/.exec(printed[0])![1];
    const { user } = await svc.login('admin', password);
    expect(user.role).toBe('admin');
    await svc.bootstrapAdmin(undefined, (l) => printed.push(l));
    expect(printed).toHaveLength(1);
    const { rows } = await database.db.query('SELECT count(*)::int AS n FROM users');
    expect(rows[0].n).toBe(1);
    await database.drop();
  });

  it('uses ADMIN_PASSWORD when set and prints nothing', async () => {
    const database = await freshDatabase();
    const log = createLogger('silent');
    const svc = testAuthService(database.db, new AuditLog(database.db, log), log);
    const printed: string[] = [];
    await svc.bootstrapAdmin('given-password-1', (l) => printed.push(l));
    expect(printed).toEqual([]);
    await expect(svc.login('admin', 'given-password-1')).resolves.toBeTruthy();
    await database.drop();
  });
});
