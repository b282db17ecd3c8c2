import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm, VmCreateOptions } from '../../src/lib/shared/vms.ts';
import { FakeOvh } from '../helpers/fake-ovh.ts';
import { allEvents, waitDone } from '../helpers/jobs.ts';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * VMs on OVH through the whole engine (API, queue, workers, provider), against the local fake
 * OVH API, which checks request signatures like the real one. OVH itself cannot be reached
 * from here.
 */
describe('VMs on OVH Public Cloud through the engine (fake OVH API)', () => {
  let fake: FakeOvh;
  let server: TestServer;
  let admin: ReturnType<typeof client>;

  const ovhEnv = (f: FakeOvh, secret = f.credentials.applicationSecret) => ({
    VM_PROVIDER: 'ovh',
    OVH_ENDPOINT: f.url,
    OVH_APPLICATION_KEY: f.credentials.applicationKey,
    OVH_APPLICATION_SECRET: secret,
    OVH_CONSUMER_KEY: f.credentials.consumerKey,
    OVH_SERVICE_NAME: 'fakeproject0001',
    OVH_REGION: 'GRA11',
    OVH_POLL_MS: '20',
    VM_PROVISION_ATTEMPTS: '1',
    VM_PROVISION_TIMEOUT_SECONDS: '10',
    VM_RECONCILE_SECONDS: '3600',
    CREDITS_STARTING_GRANT: '100000',
  });

  beforeAll(async () => {
    fake = await FakeOvh.start({ buildDelayMs: 150, actionDelayMs: 50 });
    server = await startTestServer(ovhEnv(fake));
    admin = client(server.base, { cookie: await login(server.base) });
    // The engine is under test here, not the ledger: no quota in the way.
    const me = (await admin.get('/api/auth/me')).json.user;
    expect((await admin.put(`/api/admin/users/${me.id}/quota`, { tier: 'unlimited', vcpus: null, memoryMb: null, diskGb: null })).status).toBe(200);
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  const until = async (vmId: string, ok: (vm: Vm) => boolean, ms = 30_000): Promise<Vm> => {
    const deadline = Date.now() + ms;
    let last: Vm | null = null;
    while (Date.now() < deadline) {
      last = (await admin.get(`/api/vms/${vmId}`)).json;
      if (last && ok(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`VM did not get there: ${last?.status.label} ${last?.statusDetail}`);
  };
  const settled = (v: Vm) => !v.status.inFlight && !v.status.queued.length;

  it('creates, stops and destroys an instance; a 5xx on the way is retried; stopped instances are flagged as still billed', async () => {
    fake.fault('GET /cloud/project/:sn/instance/:id', { respond: 503, times: 1 });
    const r = await admin.post('/api/vms', { name: 'cloud-1', vcpus: 2, memoryMb: 4096, diskGb: 20 });
    expect(r.status, r.text).toBe(202);
    const vm = await until(r.json.vm.id, (v) => v.state === 'running' && settled(v));
    expect(vm).toMatchObject({ provider: 'ovh', sshPort: 22, user: 'debian', billedWhenStopped: true });
    expect(vm.host).toMatch(/^51\.77\.10\.\d+$/);
    expect(fake.requestsTo('GET', /\/instance\/[^/]+$/).some((q) => q.status === 503)).toBe(true);
    expect(fake.instances().filter((i) => i.name.endsWith(vm.id))).toHaveLength(1);

    expect((await admin.post(`/api/vms/${vm.id}/actions`, { action: 'stop' })).status).toBe(202);
    const stopped = await until(vm.id, (v) => v.state === 'stopped' && settled(v));
    expect(stopped.billedWhenStopped).toBe(true);
    expect(fake.instances().find((i) => i.name.endsWith(vm.id))?.status).toBe('SHUTOFF');

    const stop = (await admin.get(`/api/vms/${vm.id}/operations`)).json[0];
    const text = (await allEvents(admin, stop.jobId)).map((e) => e.chunk).join('');
    expect(text).toMatch(/still bills a stopped/);

    expect((await admin.post(`/api/vms/${vm.id}/actions`, { action: 'destroy' })).status).toBe(202);
    await until(vm.id, (v) => v.state === 'destroyed' && settled(v));
    expect(fake.instances().filter((i) => i.name.endsWith(vm.id))).toHaveLength(0);
    expect(fake.keys().filter((k) => k.name.endsWith(vm.id))).toHaveLength(0);
  });

  it('a create that times out ends in error with the reason in the VM and its log, never stuck provisioning', async () => {
    fake.fault('POST /cloud/project/:sn/instance', { hangMs: 20_000, times: 1 });
    const r = await admin.post('/api/vms', { name: 'cloud-slow', vcpus: 1, memoryMb: 2048, diskGb: 10 });
    expect(r.status).toBe(202);
    const vm = await until(r.json.vm.id, (v) => v.state === 'error' && !v.status.inFlight, 40_000);
    expect(vm.statusDetail).toMatch(/timed out|no answer|timeout/i);
    const job = await waitDone(admin, r.json.jobId);
    expect(job.status).toBe('failed');
  }, 60_000);

  it('with a wrong application secret every request fails its signature check: the provider says so before any create', async () => {
    const bad = await startTestServer(ovhEnv(fake, 'not-the-secret'));
    try {
      const c = client(bad.base, { cookie: await login(bad.base) });
      const options = (await c.get('/api/vms/providers')).json as VmCreateOptions;
      const ovh = options.providers.find((p) => p.name === 'ovh')!;
      expect(ovh.ok).toBe(false);
      expect(ovh.reason).toMatch(/signature/i);
      const r = await c.post('/api/vms', { name: 'never', vcpus: 1, memoryMb: 2048, diskGb: 10 });
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('provider_unavailable');
      expect(fake.instances().some((i) => i.name.includes('never'))).toBe(false);
    } finally {
      await bad.close();
    }
  });
});
