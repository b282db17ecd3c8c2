import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allEvents, waitDone, waitFor } from '../helpers/jobs.ts';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';
import { newTerminal, sleep, Tab, terminalsSocket, type Client } from '../helpers/terminals.ts';

describe('terminal access', () => {
  let s: TestServer;
  let cookie: string;
  let c: Client;
  let plainC: Client;
  let alice: { c: Client; cookie: string };
  let carol: { c: Client; cookie: string };

  beforeAll(async () => {
    s = await startTestServer({ JOB_CANCEL_GRACE_MS: '1000' });
    cookie = await login(s.base);
    c = client(s.base, { cookie });
    await c.post('/api/admin/users', { username: 'plain', password: 'plain-password', role: 'user' });
    await c.post('/api/admin/users', { username: 'alice', password: 'alice-password', role: 'user', canTerminal: true });
    await c.post('/api/admin/users', { username: 'carol', password: 'carol-password', role: 'user', canTerminal: true });
    plainC = client(s.base, { cookie: await login(s.base, 'plain', 'plain-password') });
    const ac = await login(s.base, 'alice', 'alice-password');
    alice = { c: client(s.base, { cookie: ac }), cookie: ac };
    const cc = await login(s.base, 'carol', 'carol-password');
    carol = { c: client(s.base, { cookie: cc }), cookie: cc };
  });
  afterAll(() => s.close());

  it('refuses a user without terminal permission', async () => {
    const r = await plainC.post('/api/jobs', { type: 'terminal' });
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('forbidden');
  });

  it('lets only the owner or an admin attach or see it', async () => {
    const job = await newTerminal(alice.c);
    const intruder = new Tab(await terminalsSocket(s.base, carol.cookie), job.id);
    const denied = await intruder.attach();
    expect(denied.error.code).toBe('not_found');
    intruder.type('echo intruder\r');
    expect(await carol.c.get('/api/terminals').then((r) => r.json.terminals)).toEqual([]);
    expect((await carol.c.post(`/api/jobs/${job.id}/cancel`)).status).toBe(404);
    expect((await carol.c.get(`/api/jobs/${job.id}/asciicast`)).status).toBe(404);

    const owner = await Tab.open(s.base, alice.cookie, job.id);
    expect(owner.ack.keyboard).toBe(true);
    const admin = await Tab.open(s.base, cookie, job.id);
    expect(admin.ack.ok).toBe(true);
    expect((await alice.c.get('/api/terminals')).json.terminals.map((t: { id: string }) => t.id)).toEqual([job.id]);
    expect((await c.get('/api/terminals')).json.terminals.find((t: { id: string }) => t.id === job.id).attached).toBe(2);
    owner.tab.type('exit\r');
    await waitDone(alice.c, job.id);
    expect(owner.tab.text()).not.toContain('intruder');
    for (const t of [intruder, owner.tab, admin.tab]) t.close();
  });

  it('detaches open tabs and refuses new attaches once terminal access is revoked', async () => {
    const job = await newTerminal(carol.c);
    const { tab: carolTab } = await Tab.open(s.base, carol.cookie, job.id);
    expect(carolTab.keyboard).toBe(true);
    const { tab: adminTab } = await Tab.open(s.base, cookie, job.id);
    carolTab.type('echo before-$((6*7))\r');
    await adminTab.see(/before-42/);

    const { users } = (await c.get('/api/admin/users')).json;
    const id = users.find((u: { username: string }) => u.username === 'carol').id;
    expect((await c.patch(`/api/admin/users/${id}`, { canTerminal: false })).status).toBe(200);
    await waitFor(async () => carolTab.revoked, 5000, 'revoked event');
    // Keystrokes from the revoked tab no longer reach the shell; the keyboard moved on.
    const mark = adminTab.length;
    carolTab.type('echo leaked-$((6*7))\r');
    await sleep(800);
    expect(adminTab.text(mark)).not.toContain('leaked-42');
    await waitFor(async () => adminTab.keyboard, 5000, 'keyboard to pass to the admin tab');
    carolTab.close();
    adminTab.close();

    const tab = new Tab(await terminalsSocket(s.base, carol.cookie), job.id);
    expect((await tab.attach()).error.code).toBe('forbidden');
    expect((await carol.c.post('/api/jobs', { type: 'terminal' })).status).toBe(403);
    await c.post(`/api/jobs/${job.id}/cancel`);
    await waitDone(c, job.id);
    tab.close();
  });
});

describe('terminal idle timeout', () => {
  let s: TestServer;
  let cookie: string;
  let c: Client;

  beforeAll(async () => {
    s = await startTestServer({ TERMINAL_IDLE_MINUTES: '0.02' });
    cookie = await login(s.base);
    c = client(s.base, { cookie });
  });
  afterAll(() => s.close());

  it('ends a terminal nobody is attached to, but not one that is watched', async () => {
    const watched = await newTerminal(c);
    const { tab } = await Tab.open(s.base, cookie, watched.id);
    const detached = await newTerminal(c);
    const done = await waitDone(c, detached.id, 10_000);
    expect(done.status).toBe('canceled');
    const events = await allEvents(c, detached.id);
    expect(events.some((e) => e.stream === 'system' && /idle timeout/.test(e.chunk))).toBe(true);
    // 1.2 s idle limit: the attached one is still running well after it.
    await sleep(2000);
    expect((await c.get(`/api/jobs/${watched.id}`)).json.status).toBe('running');
    tab.close();
    expect((await waitDone(c, watched.id, 10_000)).status).toBe('canceled');
  });
});
