import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm } from '../../src/lib/shared/vms.ts';
import { FakeOvh } from '../helpers/fake-ovh.ts';
import { waitFor } from '../helpers/jobs.ts';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * The credit ledger through the API against real Postgres. VMs go to the fake OVH API (quick
 * to provision, no Docker needed), because what is tested here is admission and the ledger.
 */
describe('credit ledger, quotas and admission (real Postgres)', () => {
  let fake: FakeOvh;
  let server: TestServer;
  let admin: ReturnType<typeof client>;
  let users = 0;

  const env = (f: FakeOvh, extra: Record<string, string> = {}) => ({
    VM_PROVIDER: 'ovh', OVH_ENDPOINT: f.url, OVH_APPLICATION_KEY: f.credentials.applicationKey,
    OVH_APPLICATION_SECRET: f.credentials.applicationSecret, OVH_CONSUMER_KEY: f.credentials.consumerKey,
    OVH_SERVICE_NAME: 'fakeproject0001', OVH_POLL_MS: '20', VM_PROVISION_ATTEMPTS: '1', VM_RECONCILE_SECONDS: '3600',
    CREDITS_STARTING_GRANT: '0', ...extra,
  });

  beforeAll(async () => {
    fake = await FakeOvh.start({ buildDelayMs: 50, actionDelayMs: 20 });
    server = await startTestServer(env(fake));
    admin = client(server.base, { cookie: await login(server.base) });
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  /** A new user with `credits` and the given limits (tier unlimited unless set). */
  const newUser = async (credits: number, quota: Record<string, unknown> = {}, s = server, a = admin) => {
    const username = `u${++users}`;
    const r = await a.post('/api/admin/users', { username, password: 'password-123456', role: 'user' });
    const id = r.json.user.id as string;
    expect((await a.put(`/api/admin/users/${id}/quota`, { tier: 'unlimited', ...quota })).status).toBe(200);
    if (credits) expect((await a.post(`/api/admin/users/${id}/credits`, { amount: credits, reason: 'test funds' })).status).toBe(200);
    return { id, c: client(s.base, { cookie: await login(s.base, username, 'password-123456') }) };
  };
  const size = { vcpus: 2, memoryMb: 1024, diskGb: 20 }; // 34 credits
  const sums = async (userId: string) => (await server.db.query(
    `SELECT a.posted, a.held, (SELECT COALESCE(sum(posted_delta), 0)::int FROM credit_entries WHERE user_id = $1) AS "entriesPosted",
            (SELECT COALESCE(sum(amount), 0)::int FROM credit_holds WHERE user_id = $1 AND state = 'pending') AS "openHolds"
     FROM credit_accounts a WHERE a.user_id = $1`, [userId])).rows[0];
  const settledVm = (c: ReturnType<typeof client>, id: string, state: string) =>
    waitFor(async () => {
      const v = (await c.get(`/api/vms/${id}`)).json as Vm;
      return v.state === state && !v.status.inFlight ? v : null;
    }, 20_000, `VM ${state}`);

  it('quotes the price, the balance and every reason a create would be refused', async () => {
    const { c } = await newUser(30, { tier: 'free' });
    const q = (await c.post('/api/vms/quote', size)).json;
    expect(q).toMatchObject({ cost: 34, balance: 30, allowed: false });
    expect(q.reasons.map((r: { code: string; limit: string }) => `${r.code}:${r.limit}`).sort()).toEqual(['insufficient_credits:credits', 'quota_exceeded:diskGb']);
    const ok = (await c.post('/api/vms/quote', { vcpus: 1, memoryMb: 512, diskGb: 10 })).json;
    expect(ok).toMatchObject({ cost: 17, balance: 30, allowed: true, reasons: [] });
  });

  it('100 concurrent creates from a user funded for exactly 4 VMs admit exactly 4; the balance never goes below zero', async () => {
    const { id, c } = await newUser(4 * 34);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => c.post('/api/vms', { name: `race-${i}`, ...size })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(4);
    expect(statuses.filter((s) => s === 402)).toHaveLength(96);
    const refusal = results.find((r) => r.status === 402)!.json.error;
    expect(refusal).toMatchObject({ code: 'insufficient_credits', details: { limit: 'credits', requested: 34 } });
    const credits = (await c.get('/api/credits')).json;
    expect(credits.balance).toBe(0);
    const s = await sums(id);
    expect(s.posted - s.held).toBeGreaterThanOrEqual(0);
    expect(s.posted).toBe(s.entriesPosted);
    expect(s.held).toBe(s.openHolds);
    // Once provisioned, the holds are posted: the charge is final and nothing stays held.
    for (const r of results.filter((x) => x.status === 202)) await settledVm(c, r.json.vm.id, 'running');
    await waitFor(async () => (await sums(id)).held === 0, 10_000, 'holds posted');
    expect((await sums(id)).posted).toBe(0);
    const kinds = (await c.get('/api/credits/ledger?limit=100')).json.entries.map((e: { kind: string }) => e.kind);
    expect(kinds.filter((k: string) => k === 'hold')).toHaveLength(4);
    expect(kinds.filter((k: string) => k === 'post')).toHaveLength(4);
  });

  it('the same with a quota as the binding limit: 30 concurrent creates, 3 VMs allowed, exactly 3 admitted', async () => {
    const { c } = await newUser(10_000, { maxVms: 3 });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => c.post('/api/vms', { name: `q-${i}`, vcpus: 1, memoryMb: 512, diskGb: 10 })));
    expect(results.filter((r) => r.status === 202)).toHaveLength(3);
    const refused = results.filter((r) => r.status === 403);
    expect(refused).toHaveLength(27);
    expect(refused[0].json.error).toMatchObject({ code: 'quota_exceeded', details: { limit: 'maxVms', requested: 1, used: 3, max: 3 } });
    expect((await c.get('/api/credits')).json.usage.vms).toBe(3);
  });

  it('20 concurrent creates with one Idempotency-Key make one VM and 20 identical answers; another body with that key is 422', async () => {
    const { c } = await newUser(1000);
    const headers = { 'Idempotency-Key': 'click-1' };
    const body = { name: 'once', vcpus: 1, memoryMb: 512, diskGb: 10 };
    const results = await Promise.all(Array.from({ length: 20 }, () => c.post('/api/vms', body, headers)));
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([202]));
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect((await c.get('/api/vms')).json.filter((v: Vm) => v.source === 'provisioned')).toHaveLength(1);
    expect((await c.get('/api/credits')).json.balance).toBe(1000 - 17);
    const other = await c.post('/api/vms', { ...body, name: 'twice' }, headers);
    expect(other.status).toBe(422);
    // A refusal is an answer too: the same key gets the same refusal, even once it would pass.
    const { id, c: poor } = await newUser(5);
    const first = await poor.post('/api/vms', body, { 'Idempotency-Key': 'k' });
    expect(first.status).toBe(402);
    await admin.post(`/api/admin/users/${id}/credits`, { amount: 100, reason: 'top-up' });
    const again = await poor.post('/api/vms', body, { 'Idempotency-Key': 'k' });
    expect(again.status).toBe(402);
    expect(again.text).toBe(first.text);
  });

  it('a failed provision is refunded by default, and charged when CREDITS_REFUND_ON_FAILURE=false', async () => {
    const { id, c } = await newUser(100);
    fake.fault('POST /cloud/project/:sn/instance', { buildError: true, times: 1 });
    const r = await c.post('/api/vms', { name: 'doomed', vcpus: 1, memoryMb: 512, diskGb: 10 });
    await settledVm(c, r.json.vm.id, 'error');
    await waitFor(async () => (await sums(id)).held === 0, 10_000, 'hold voided');
    expect((await c.get('/api/credits')).json.balance).toBe(100);
    const entries = (await c.get('/api/credits/ledger')).json.entries;
    expect(entries[0]).toMatchObject({ kind: 'void', amount: 0, held: -17, vmId: r.json.vm.id });

    const strict = await startTestServer(env(fake, { CREDITS_REFUND_ON_FAILURE: 'false' }));
    try {
      const a2 = client(strict.base, { cookie: await login(strict.base) });
      const u = await newUser(100, {}, strict, a2);
      fake.fault('POST /cloud/project/:sn/instance', { buildError: true, times: 1 });
      const r2 = await u.c.post('/api/vms', { name: 'doomed', vcpus: 1, memoryMb: 512, diskGb: 10 });
      await settledVm(u.c, r2.json.vm.id, 'error');
      await waitFor(async () => (await u.c.get('/api/credits')).json.held === 0, 10_000, 'hold posted');
      expect((await u.c.get('/api/credits')).json.balance).toBe(83);
    } finally {
      await strict.close();
    }
  });

  it('the sweeper voids an expired hold with an audit event; the auditor finds a tampered cached balance', async () => {
    const { id, c } = await newUser(100);
    fake.fault('POST /cloud/project/:sn/instance', { hangMs: 3000, times: 1 });
    const r = await c.post('/api/vms', { name: 'slow', vcpus: 1, memoryMb: 512, diskGb: 10 });
    expect(r.status).toBe(202);
    await server.db.query(`UPDATE credit_holds SET expires_at = now() - interval '1 second' WHERE vm_id = $1`, [r.json.vm.id]);
    const credits = server.app.vms!.credits;
    expect(await credits.sweep()).toBeGreaterThanOrEqual(1);
    expect((await sums(id)).held).toBe(0);
    expect(JSON.stringify((await admin.get('/api/admin/events?limit=50')).json)).toContain('credits.hold_expired');

    // Its VM is still provisioning with no hold now: the auditor says so.
    const afterSweep = (await admin.post('/api/admin/credits/audit')).json;
    expect(afterSweep.findings).toContainEqual(expect.objectContaining({ check: 'no VM provisioning without a hold', userId: id }));

    const other = await newUser(70);
    const clean = (await admin.post('/api/admin/credits/audit')).json;
    expect(clean.findings.filter((f: { userId: string }) => f.userId === other.id)).toEqual([]);
    await server.db.query('UPDATE credit_accounts SET posted = posted + 5 WHERE user_id = $1', [other.id]);
    const report = (await admin.post('/api/admin/credits/audit')).json;
    expect(report.ok).toBe(false);
    expect(report.findings).toContainEqual(expect.objectContaining({ check: 'posted equals the entries', userId: other.id }));
    expect(JSON.stringify((await admin.get('/api/admin/events?limit=50')).json)).toContain('credits.drift');
    await server.db.query('UPDATE credit_accounts SET posted = posted - 5 WHERE user_id = $1', [other.id]);
    expect((await c.post('/api/admin/credits/audit')).status).toBe(403);
  });

  it('a start must fit the running quota: of two starts asked at once with room for one, one is refused', async () => {
    const { c } = await newUser(1000, { maxVms: 2, maxRunning: 1 });
    const make = async (name: string) => {
      const r = await c.post('/api/vms', { name, vcpus: 1, memoryMb: 512, diskGb: 10 });
      expect(r.status, r.text).toBe(202);
      await settledVm(c, r.json.vm.id, 'running');
      expect((await c.post(`/api/vms/${r.json.vm.id}/actions`, { action: 'stop' })).status).toBe(202);
      await settledVm(c, r.json.vm.id, 'stopped');
      return r.json.vm.id as string;
    };
    const a = await make('a');
    const b = await make('b');
    const both = await Promise.all([a, b].map((id) => c.post(`/api/vms/${id}/actions`, { action: 'start' })));
    expect(both.map((r) => r.status).sort()).toEqual([202, 403]);
    expect(both.find((r) => r.status === 403)!.json.error).toMatchObject({ code: 'quota_exceeded', details: { limit: 'maxRunning', max: 1 } });
  });

  it('runtime metering, when rates are set, charges each full running hour and stops a VM whose owner runs out after a warning', async () => {
    const metered = await startTestServer(env(fake, { CREDITS_RUNTIME_RATES: 'unlimited:5', VM_WARNING_MINUTES: '0', VM_LIFECYCLE_SECONDS: '3600' }));
    try {
      const a2 = client(metered.base, { cookie: await login(metered.base) });
      const { id, c } = await newUser(17 + 12, {}, metered, a2);
      const r = await c.post('/api/vms', { name: 'meter', vcpus: 1, memoryMb: 512, diskGb: 10 });
      const vmId = r.json.vm.id as string;
      await settledVm(c, vmId, 'running');
      const credits = metered.app.vms!.credits;
      const stop = metered.app.vms!.stopUnpaid;
      await metered.db.query(`UPDATE vms SET running_since = now() - interval '2 hours 10 minutes' WHERE id = $1`, [vmId]);
      expect((await credits.meter(stop)).charged).toEqual([{ vmId, credits: 10, hours: 2 }]);
      expect((await credits.meter(stop)).charged).toEqual([]); // the same hours are never charged twice
      expect((await c.get('/api/credits')).json.balance).toBe(2);
      expect((await c.get('/api/credits/ledger')).json.entries[0]).toMatchObject({ kind: 'runtime', amount: -10, vmId });

      // Another hour it cannot pay: a warning first, then (grace 0) the stop.
      await metered.db.query(`UPDATE vms SET metered_until = metered_until - interval '1 hour' WHERE id = $1`, [vmId]);
      expect((await credits.meter(stop)).warned).toEqual([vmId]);
      expect(JSON.stringify((await c.get('/api/events?action=credits.runtime_exhausted')).json)).toContain(vmId);
      expect((await credits.meter(stop)).stopped).toEqual([vmId]);
      await settledVm(c, vmId, 'stopped');
      const s = (await metered.db.query('SELECT posted, held FROM credit_accounts WHERE user_id = $1', [id])).rows[0];
      expect(s.posted - s.held).toBe(2);
    } finally {
      await metered.close();
    }
  });

  it('the audit feed filters by type, action, severity and user; users see only their own events', async () => {
    const { id, c } = await newUser(100);
    await c.post('/api/vms', { name: 'audited', vcpus: 1, memoryMb: 512, diskGb: 10 });
    const own = (await c.get('/api/events?type=vm&action=vm.create')).json.events;
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({ type: 'vm', action: 'vm.create', userId: id, severity: 'info' });
    expect((await c.get('/api/events?type=admin')).json.events).toEqual([]);
    const grants = (await admin.get(`/api/admin/events?action=credits.adjust&type=admin`)).json.events;
    expect(grants.some((e: { metadata: { userId: string } }) => e.metadata.userId === id)).toBe(true);
    const byUser = (await admin.get(`/api/admin/events?user=${id}`)).json.events;
    expect(byUser.every((e: { userId: string }) => e.userId === id)).toBe(true);
    expect((await admin.get('/api/admin/events?severity=loud')).status).toBe(400);
  });

  it('admins grant and take back credits with a reason, never below zero', async () => {
    const { id, c } = await newUser(50);
    expect((await admin.post(`/api/admin/users/${id}/credits`, { amount: -60, reason: 'oops' })).status).toBe(409);
    expect((await admin.post(`/api/admin/users/${id}/credits`, { amount: -20, reason: 'correction' })).json.balance).toBe(30);
    expect((await c.post(`/api/admin/users/${id}/credits`, { amount: 1000, reason: 'me' })).status).toBe(403);
    const ledger = (await admin.get(`/api/admin/users/${id}/credits`)).json;
    expect(ledger.ledger.entries.map((e: { kind: string; amount: number; reason: string }) => [e.kind, e.amount, e.reason])).toEqual([
      ['adjustment', -20, 'correction'], ['grant', 50, 'test funds'],
    ]);
  });
});
