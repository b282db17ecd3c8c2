import crypto from 'node:crypto';
import type Docker from 'dockerode';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm, VmOperation } from '../../src/lib/shared/vms.ts';
import { dockerForTests, removeContainersLabelled } from '../helpers/docker.ts';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';
import { allEvents, jobsSocket, waitDone, waitFor } from '../helpers/jobs.ts';

/**
 * The VM engine end to end through the HTTP API: real Postgres, real pg-boss, real dockerd
 * and the sshd inside each container. Retry delays are one second so failures exhaust fast.
 */
const docker = await dockerForTests();

describe.skipIf(!docker)('VM engine (real dockerd)', () => {
  let server: TestServer;
  let admin: ReturnType<typeof client>;
  let alice: ReturnType<typeof client>;
  let bob: ReturnType<typeof client>;
  let aliceCookie: string;
  let bobCookie: string;
  const engine = docker as Docker;

  beforeAll(async () => {
    server = await startTestServer({
      CREDITS_STARTING_GRANT: '100000',
      VM_PROVISION_RETRY_SECONDS: '1',
      VM_ACTION_RETRY_SECONDS: '1',
      VM_CAPACITY_VMS: '6',
      VM_ORPHAN_GRACE_SECONDS: '0',
      VM_RECONCILE_SECONDS: '3600',
      VM_LIFECYCLE_SECONDS: '3600',
      VM_WARNING_MINUTES: '10',
    });
    admin = client(server.base, { cookie: await login(server.base) });
    for (const name of ['alice', 'bob']) {
      const r = await admin.post('/api/admin/users', { username: name, password: `${name}-password-1`, role: 'user', tier: 'pro' });
      expect(r.status).toBe(201);
      // These tests are about the engine: no quota gets in their way (the ledger's own tests cover quotas).
      const q = await admin.put(`/api/admin/users/${r.json.user.id}/quota`, { tier: 'unlimited', vcpus: null, memoryMb: null, diskGb: null });
      expect(q.status, q.text).toBe(200);
    }
    aliceCookie = await login(server.base, 'alice', 'alice-password-1');
    alice = client(server.base, { cookie: aliceCookie });
    bobCookie = await login(server.base, 'bob', 'bob-password-1');
    bob = client(server.base, { cookie: bobCookie });
  });

  afterAll(async () => {
    const consoleId = server ? (await server.db.query('SELECT id FROM console_identity')).rows[0].id : null;
    await server?.close();
    if (consoleId) await removeContainersLabelled(engine, `vm-orchestrator.console=${consoleId}`);
  });

  const until = async (vmId: string, ok: (vm: Vm) => boolean, who = alice, ms = 60_000): Promise<Vm> => {
    const deadline = Date.now() + ms;
    let last: Vm | null = null;
    while (Date.now() < deadline) {
      const r = await who.get(`/api/vms/${vmId}`);
      last = r.json;
      if (last && ok(last)) return last;
      await new Promise((res) => setTimeout(res, 250));
    }
    throw new Error(`VM ${vmId} did not get there: ${JSON.stringify(last?.status)} ${last?.statusDetail}`);
  };
  const settled = (vm: Vm) => !vm.status.inFlight && vm.status.queued.length === 0;
  const create = async (name: string, extra: Record<string, unknown> = {}, who = alice) => {
    const r = await who.post('/api/vms', { name, vcpus: 1, memoryMb: 256, diskGb: 5, ...extra });
    expect(r.status, r.text).toBe(202);
    return r.json as { vm: Vm; jobId: string };
  };
  const containersOf = async (vmId: string) => engine.listContainers({ all: true, filters: { label: [`vm-orchestrator.vm=${vmId}`] } });
  /** Everything the job recorded, system lines included (what its log view shows). */
  const log = async (jobId: string, who = alice) => (await allEvents(who, jobId)).map((e) => e.chunk).join('');

  it('creates a VM that runs on 127.0.0.1 only, with its size as limits, and runs commands in it over verified SSH', async () => {
    // Live updates reach the owner's sockets, never another user's.
    const aliceSocket = await jobsSocket(server.base, aliceCookie);
    const bobSocket = await jobsSocket(server.base, bobCookie);
    const seen: Vm[] = [];
    const seenByBob: Vm[] = [];
    aliceSocket.on('vm:updated', ({ vm }: { vm: Vm }) => seen.push(vm));
    bobSocket.on('vm:updated', ({ vm }: { vm: Vm }) => seenByBob.push(vm));
    const { vm, jobId } = await create('web-1', { memoryMb: 512 });
    expect(vm).toMatchObject({ name: 'web-1', state: 'requested', provider: 'docker', source: 'provisioned' });
    const running = await until(vm.id, (v) => v.state === 'running' && settled(v));
    expect(running.sshPort).toBeGreaterThan(0);
    expect(running.host).toBe('127.0.0.1');
    expect(running.sshCommand).toContain(`-p ${running.sshPort} root@127.0.0.1`);
    expect(running.hostKeyFingerprints.length).toBeGreaterThan(0);
    expect(running.hostKeyFingerprints[0]).toMatch(/^SHA256:/);

    const job = await waitDone(alice, jobId, 60_000);
    expect(job.status).toBe('success');
    expect(await log(jobId)).toMatch(/SSH: root@127\.0\.0\.1 port \d+/);
    await waitFor(async () => seen.some((v) => v.id === vm.id && v.state === 'running' && settled(v)), 5000, 'vm:updated running');
    expect(seen.filter((v) => v.id === vm.id).map((v) => v.state)).toContain('provisioning');
    expect(seenByBob).toEqual([]);
    aliceSocket.close();
    bobSocket.close();

    const [container] = await containersOf(vm.id);
    const info = await engine.getContainer(container.Id).inspect();
    expect(info.HostConfig.PortBindings['22/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: '' }]);
    expect(info.NetworkSettings.Ports['22/tcp']?.[0]).toMatchObject({ HostIp: '127.0.0.1', HostPort: String(running.sshPort) });
    expect(info.HostConfig.NanoCpus).toBe(1e9);
    expect(info.HostConfig.Memory).toBe(512 * 2 ** 20);
    expect(info.HostConfig.PidsLimit).toBeGreaterThan(0);

    const exec = await alice.post(`/api/vms/${vm.id}/exec`, { command: 'echo hello-from-vm; id -un; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' });
    expect(exec.status, exec.text).toBe(201);
    const done = await waitDone(alice, exec.json.id, 60_000);
    const out = await log(exec.json.id);
    expect(done.status, out).toBe('success');
    expect(out).toMatch(/hello-from-vm\r?\nroot\r?\n/);
    expect(out).toContain(String(512 * 2 ** 20));
  });

  it('the downloaded key logs in with ssh2, and the host key the console pinned is the one the VM presents', async () => {
    const vm = (await alice.get('/api/vms')).json.find((v: Vm) => v.name === 'web-1') as Vm;
    const key = await alice.get(`/api/vms/${vm.id}/ssh-key`);
    expect(key.status).toBe(200);
    expect(key.headers.get('content-disposition')).toContain('web-1.key');
    expect(key.text).toContain('BEGIN OPENSSH PRIVATE KEY');
    expect((await bob.get(`/api/vms/${vm.id}/ssh-key`)).status).toBe(404);
    const presented = await new Promise<string>((resolve, reject) => {
      const c = new ssh2.Client();
      let fp = '';
      c.on('ready', () => {
        c.end();
        resolve(fp);
      }).on('error', reject).connect({
        host: vm.host!, port: vm.sshPort!, username: 'root', privateKey: key.text,
        hostVerifier: (k: Buffer) => {
          fp = `SHA256:${crypto.createHash('sha256').update(k).digest('base64').replace(/=+$/, '')}`;
          return true;
        },
      });
    });
    expect(vm.hostKeyFingerprints).toContain(presented);
  });

  it('two VMs have different host keys', async () => {
    const { vm } = await create('web-2');
    const second = await until(vm.id, (v) => v.state === 'running' && settled(v));
    const first = (await alice.get('/api/vms')).json.find((v: Vm) => v.name === 'web-1') as Vm;
    expect(second.hostKeyFingerprints.some((f) => first.hostKeyFingerprints.includes(f))).toBe(false);
  });

  it('a stop asked while the VM provisions runs after the create; start gives a new port; destroy removes the container', async () => {
    const { vm } = await create('ordered');
    const stop = await alice.post(`/api/vms/${vm.id}/actions`, { action: 'stop' });
    expect(stop.status, stop.text).toBe(202);
    expect(stop.json.vm.status.queued).toContain('stop');
    const stopped = await until(vm.id, (v) => v.state === 'stopped' && settled(v));
    expect(stopped.sshPort).toBeNull();
    const ops = (await alice.get(`/api/vms/${vm.id}/operations`)).json as VmOperation[];
    expect(ops.map((o) => [o.action, o.status]).reverse()).toEqual([['create', 'succeeded'], ['stop', 'succeeded']]);

    // Not allowed now: 409 with the state.
    const again = await alice.post(`/api/vms/${vm.id}/actions`, { action: 'stop' });
    expect(again.status).toBe(409);
    expect(again.json.error).toMatchObject({ code: 'invalid_transition', details: { state: 'stopped' } });

    expect((await alice.post(`/api/vms/${vm.id}/actions`, { action: 'start' })).status).toBe(202);
    const restarted = await until(vm.id, (v) => v.state === 'running' && settled(v));
    const exec = await alice.post(`/api/vms/${vm.id}/exec`, { command: 'echo back' });
    expect((await waitDone(alice, exec.json.id, 60_000)).status, await log(exec.json.id)).toBe('success');
    expect(restarted.sshPort).toBeGreaterThan(0);

    expect((await alice.post(`/api/vms/${vm.id}/actions`, { action: 'destroy' })).status).toBe(202);
    await until(vm.id, (v) => v.state === 'destroyed' && settled(v));
    expect(await containersOf(vm.id)).toEqual([]);
    expect((await alice.get('/api/vms')).json.some((v: Vm) => v.id === vm.id)).toBe(false);
    expect((await alice.get('/api/vms?all=1')).json.some((v: Vm) => v.id === vm.id)).toBe(true);
  });

  it("only the owner and admins see a VM; another user gets 404", async () => {
    const vm = (await alice.get('/api/vms')).json.find((v: Vm) => v.name === 'web-2') as Vm;
    expect((await bob.get(`/api/vms/${vm.id}`)).status).toBe(404);
    expect((await bob.post(`/api/vms/${vm.id}/actions`, { action: 'destroy' })).status).toBe(404);
    expect((await bob.post(`/api/vms/${vm.id}/exec`, { command: 'id' })).status).toBe(404);
    expect((await admin.get(`/api/vms/${vm.id}`)).status).toBe(200);
    expect((await bob.get('/api/vms')).json.filter((v: Vm) => v.source === 'provisioned')).toEqual([]);
  });

  it('a container removed behind the console goes to error with the reason; a labelled container no VM owns is destroyed', async () => {
    const vm = (await alice.get('/api/vms')).json.find((v: Vm) => v.name === 'web-2') as Vm;
    const [container] = await containersOf(vm.id);
    await engine.getContainer(container.Id).remove({ force: true });
    const consoleId = (await server.db.query('SELECT id FROM console_identity')).rows[0].id;
    const orphanId = '00000000-0000-4000-8000-00000000beef';
    const orphan = await engine.createContainer({
      Image: (await engine.getContainer(container.Id).inspect().catch(() => null))?.Config.Image ?? container.Image,
      name: `vmo-orphan-${Date.now()}`,
      Labels: { 'vm-orchestrator.vm': orphanId, 'vm-orchestrator.managed': '1', 'vm-orchestrator.console': consoleId },
    });
    const report = (await admin.post('/api/admin/vms/reconcile')).json;
    expect(report.vanished).toContain(vm.id);
    expect(report.orphansDestroyed).toContain(orphanId);
    const errored = (await alice.get(`/api/vms/${vm.id}`)).json as Vm;
    expect(errored.state).toBe('error');
    expect(errored.statusDetail).toMatch(/removed outside the console/);
    await expect(orphan.inspect()).rejects.toMatchObject({ statusCode: 404 });
    // And it can still be destroyed.
    expect((await alice.post(`/api/vms/${vm.id}/actions`, { action: 'destroy' })).status).toBe(202);
    await until(vm.id, (v) => v.state === 'destroyed' && settled(v));
  });

  it('a create that keeps failing lands dead-lettered with the reason; discard unblocks the VM, which can then be destroyed', async () => {
    const { vm, jobId } = await create('broken', { image: 'vm-orchestrator/no-such-image:1' });
    const failed = await until(vm.id, (v) => v.state === 'error' && !v.status.inFlight, alice, 30_000);
    expect(failed.statusDetail).toMatch(/no-such-image/);
    const job = await waitDone(alice, jobId, 60_000);
    expect(job.status).toBe('failed');
    const text = await log(jobId);
    expect(text).toMatch(/attempt 1 of 3/);
    expect(text).toMatch(/Failed after 3 attempts/);

    const queue = (await admin.get('/api/admin/queue')).json;
    const dead = queue.dead.find((o: VmOperation) => o.vmId === vm.id);
    expect(dead).toMatchObject({ action: 'create', attempts: 3 });
    expect((await alice.get('/api/admin/queue')).status).toBe(403);

    // A start waits behind the dead create, so it is refused; an admin discard unblocks.
    const start = await alice.post(`/api/vms/${vm.id}/actions`, { action: 'start' });
    expect(start.status).toBe(409);
    const discarded = await admin.post(`/api/admin/queue/${dead.id}/discard`);
    expect(discarded.status, discarded.text).toBe(200);
    expect(discarded.json.operation.status).toBe('discarded');
    expect((await alice.post(`/api/vms/${vm.id}/actions`, { action: 'destroy' })).status).toBe(202);
    await until(vm.id, (v) => v.state === 'destroyed' && settled(v));
  });

  it("an admin's forced destroy removes the record whatever the provider says; the reconciler then removes the container", async () => {
    const { vm } = await create('forced');
    await until(vm.id, (v) => v.state === 'running' && settled(v));
    expect((await alice.post(`/api/vms/${vm.id}/actions`, { action: 'destroy', force: true })).status).toBe(403);
    const forced = await admin.post(`/api/vms/${vm.id}/actions`, { action: 'destroy', force: true });
    expect(forced.status, forced.text).toBe(200);
    expect(forced.json).toMatchObject({ vm: { state: 'destroyed' }, jobId: null });
    expect(await containersOf(vm.id)).toHaveLength(1);
    const report = (await admin.post('/api/admin/vms/reconcile')).json;
    expect(report.orphansDestroyed).toContain(vm.id);
    expect(await containersOf(vm.id)).toEqual([]);
  });

  it('refuses a create past the host capacity with the limit, requested, used and max', async () => {
    const r = await alice.post('/api/vms', { name: 'huge', vcpus: 1, memoryMb: 65536, diskGb: 5 });
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({ code: 'capacity_exceeded', details: { limit: 'memoryMb', requested: 65536 } });
    expect((await alice.get('/api/vms')).json.some((v: Vm) => v.name === 'huge')).toBe(false);
  });

  it('validates the body and keeps names unique per owner', async () => {
    expect((await alice.post('/api/vms', { name: 'bad name', vcpus: 1, memoryMb: 256, diskGb: 5 })).status).toBe(400);
    expect((await alice.post('/api/vms', { name: 'ok', vcpus: 0, memoryMb: 256, diskGb: 5 })).status).toBe(400);
    expect((await alice.post('/api/vms', { name: 'web-1', vcpus: 1, memoryMb: 256, diskGb: 5 })).status).toBe(409);
    expect((await alice.post('/api/vms', { name: 'x', vcpus: 1, memoryMb: 256, diskGb: 5, provider: 'ovh' })).status).toBe(400);
  });

  it('auto-stop warns first, then stops an idle VM; expiry destroys it; an ephemeral VM goes once its command finished', async () => {
    const vm = (await alice.get('/api/vms')).json.find((v: Vm) => v.name === 'web-1') as Vm;
    const lifecycle = server.app.vms!.lifecycle;
    await server.db.query(`UPDATE vms SET auto_stop_minutes = 60, last_activity_at = now() - interval '55 minutes' WHERE id = $1`, [vm.id]);
    expect((await lifecycle.sweep()).warnedIdle).toContain(vm.id);
    expect((await lifecycle.sweep()).warnedIdle).not.toContain(vm.id);
    const events = (await alice.get('/api/events')).json;
    expect(JSON.stringify(events)).toContain('vm.auto_stop_warning');
    await server.db.query(`UPDATE vms SET last_activity_at = now() - interval '61 minutes' WHERE id = $1`, [vm.id]);
    expect((await lifecycle.sweep()).stopped).toContain(vm.id);
    await until(vm.id, (v) => v.state === 'stopped' && settled(v));

    await server.db.query(`UPDATE vms SET expires_at = now() - interval '1 second' WHERE id = $1`, [vm.id]);
    expect((await lifecycle.sweep()).expired).toContain(vm.id);
    await until(vm.id, (v) => v.state === 'destroyed' && settled(v));

    const eph = await create('once', { ephemeral: true });
    await until(eph.vm.id, (v) => v.state === 'running' && settled(v));
    const exec = await alice.post(`/api/vms/${eph.vm.id}/exec`, { command: 'echo only-once' });
    // On failure, the job's own output (it says why the SSH connection failed).
    expect((await waitDone(alice, exec.json.id, 60_000)).status, await log(exec.json.id)).toBe('success');
    await until(eph.vm.id, (v) => v.state === 'destroyed' && settled(v));
    expect(await containersOf(eph.vm.id)).toEqual([]);
  });
});
