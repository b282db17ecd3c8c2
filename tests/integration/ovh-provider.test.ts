import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VmSpec } from '../../server/providers/provider.ts';
import { OvhClient, type OvhClientOptions } from '../../server/providers/ovh/ovh-client.ts';
import { OvhApiError } from '../../server/providers/ovh/ovh-errors.ts';
import { OvhProvider, type OvhProviderOptions } from '../../server/providers/ovh/ovh.provider.ts';
import { FakeOvh } from '../helpers/fake-ovh.ts';

/**
 * The OVH provider against the local fake OVH API (the real one is not reachable from tests).
 * Delays are tens of milliseconds so the whole file stays fast.
 */

const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDx9vYc0x8nq3k1 console@vmo';

let fake: FakeOvh;
let logs: string[];
const log = (line: string) => logs.push(line);
const never = () => new AbortController().signal;

function client(overrides: Partial<OvhClientOptions> = {}) {
  return new OvhClient({ endpoint: fake.url, credentials: fake.credentials, timeoutMs: 2000, retries: 2, retryBaseMs: 10, ...overrides });
}

function provider(overrides: Partial<OvhProviderOptions> = {}) {
  return new OvhProvider({
    client: client(),
    serviceName: fake.serviceName,
    region: fake.region,
    defaultImage: 'Debian 12',
    pollMs: 15,
    createTimeoutMs: 3000,
    namePrefix: 'vmo-',
    ...overrides,
  });
}

function spec(vmId: string, overrides: Partial<VmSpec> = {}): VmSpec {
  return { vmId, name: `vm ${vmId}`, vcpus: 2, memoryMb: 6000, diskGb: 20, sshPublicKey: PUBLIC_KEY, sshUser: 'dev', ...overrides };
}

const instancePosts = () => fake.requestsTo('POST', `/cloud/project/${fake.serviceName}/instance`);

/** A loopback port nothing listens on. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

beforeEach(async () => {
  fake = await FakeOvh.start({ buildDelayMs: 80, actionDelayMs: 40 });
  logs = [];
});
afterEach(async () => {
  await fake.close();
});

describe('OvhProvider.create', () => {
  it('picks the smallest fitting flavor and reaches running with the public IPv4', async () => {
    const vm = await provider().create(spec('a1'), log, never());

    expect(vm).toMatchObject({ vmId: 'a1', state: 'running', sshPort: 22, notEnforced: ['disk size set by the flavor (50 GB)'] });
    expect(vm.host).toMatch(/^51\.77\.10\.\d+$/);
    const [post] = instancePosts();
    expect(post!.body).toMatchObject({
      name: 'vmo-a1', flavorId: 'flv-b2-7-gra11', imageId: 'img-debian-12-gra11', region: 'GRA11', monthlyBilling: false,
    });
    expect(vm.providerId).toBe(fake.instances()[0]!.id);
    // One key per VM, named after it, used by the instance.
    expect(fake.keys()).toEqual([expect.objectContaining({ name: 'vmo-a1', publicKey: PUBLIC_KEY })]);
    expect((post!.body as any).sshKeyId).toBe(fake.keys()[0]!.id);
    // The console's login is created at first boot with the same key.
    const userData = fake.userDataOf(vm.providerId!)!;
    expect(userData.startsWith('#cloud-config\n')).toBe(true);
    expect(JSON.parse(userData.slice('#cloud-config\n'.length)).users[1]).toMatchObject({ name: 'dev', ssh_authorized_keys: [PUBLIC_KEY] });
    // Every status change is in the job log.
    expect(logs).toContain('OVH instance vmo-a1: BUILD');
    expect(logs).toContain('OVH instance vmo-a1: BUILD → ACTIVE');
  });

  it('leaves notEnforced out when the flavor disk is the requested size', async () => {
    const vm = await provider().create(spec('a2', { vcpus: 4, memoryMb: 15000, diskGb: 100 }), log, never());
    expect(vm.notEnforced).toBeUndefined();
    expect((instancePosts()[0]!.body as any).flavorId).toBe('flv-b2-15-gra11');
  });

  it('makes no second instance when the same create is delivered again', async () => {
    const ovh = provider();
    const first = await ovh.create(spec('r1'), log, never());
    const second = await ovh.create(spec('r1'), log, never());

    expect(second).toEqual(first);
    expect(instancePosts()).toHaveLength(1);
    expect(fake.requestsTo('POST', `/cloud/project/${fake.serviceName}/sshkey`)).toHaveLength(1);
    expect(logs.some((l) => l.includes('exists already'))).toBe(true);
  });

  it('converges on one instance when two runs of one create race', async () => {
    // Both first lookups are answered late and together, so both runs see no instance and post one.
    fake.fault('GET /cloud/project/:sn/instance', { hangMs: 100, times: 2 });
    const ovh = provider();
    const [a, b] = await Promise.all([ovh.create(spec('race'), log, never()), ovh.create(spec('race'), log, never())]);

    expect(a.providerId).toBe(b.providerId);
    // Both runs really made one each; the later one deleted its own.
    expect(instancePosts()).toHaveLength(2);
    expect(logs.filter((l) => l.includes('deleting the duplicate'))).toHaveLength(1);
    await expect.poll(() => fake.instances().filter((i) => i.status !== 'DELETED').map((i) => i.id)).toEqual([a.providerId]);
    expect(fake.keys()).toHaveLength(1);
  });

  it('finds the instance when the create answer is lost', async () => {
    fake.fault('POST /cloud/project/:sn/instance', { loseResponse: true });
    const vm = await provider().create(spec('lost'), log, never());

    expect(vm.state).toBe('running');
    expect(instancePosts()).toHaveLength(1);
    expect(fake.instances()).toHaveLength(1);
    expect(logs.some((l) => l.includes('in case OVH created it anyway'))).toBe(true);
  });

  it('says plainly when no flavor fits', async () => {
    const err = await rejection(provider().create(spec('big', { vcpus: 64, memoryMb: 1000 }), log, never()));
    expect(err.code).toBe('ovh_no_flavor');
    expect(err.message).toMatch(/no flavor fits 64 vCPU \/ 1000 MB in region GRA11 \(largest available: b2-30/);
    expect(instancePosts()).toHaveLength(0);
  });

  it('fails clearly when the instance build ends in ERROR', async () => {
    fake.fault('POST /cloud/project/:sn/instance', { buildError: true });
    const err = await rejection(provider().create(spec('e1'), log, never()));

    expect(err.code).toBe('ovh_instance_failed');
    expect(err.message).toMatch(/OVH instance vmo-e1 \(.+\) went to ERROR while waiting for ACTIVE/);
    expect(logs).toContain('OVH instance vmo-e1: BUILD → ERROR');
  });

  it('times out clearly when the build never finishes', async () => {
    fake.buildDelayMs = 60_000;
    const err = await rejection(provider({ createTimeoutMs: 200 }).create(spec('slow'), log, never()));
    expect(err.code).toBe('ovh_wait_timeout');
    expect(err.message).toMatch(/vmo-slow .* is still BUILD after 200 ms waiting for ACTIVE with a public IPv4/);
  });

  it('stops polling as soon as the signal aborts', async () => {
    fake.buildDelayMs = 60_000;
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('job cancelled')), 150);

    const err = await rejection(provider({ createTimeoutMs: 30_000 }).create(spec('ab'), log, controller.signal));
    expect(err.message).toBe('job cancelled');
    expect(Date.now() - started).toBeLessThan(1000);
    const polls = fake.requestsTo('GET', /\/instance\/[^/]+$/).length;
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.requestsTo('GET', /\/instance\/[^/]+$/).length).toBe(polls);
  });
});

describe('OVH client behaviour through the provider', () => {
  it('reports a bad application secret as INVALID_SIGNATURE without leaking credentials', async () => {
    const secret = 'wrong-secret-value';
    const ovh = provider({ client: client({ credentials: { ...fake.credentials, applicationSecret: secret } }) });
    const err = await rejection(ovh.create(spec('s1'), log, never()));

    expect(err).toBeInstanceOf(OvhApiError);
    expect(err).toMatchObject({ httpStatus: 400, errorCode: 'INVALID_SIGNATURE', errorClass: 'Client::BadRequest::InvalidSignature', kind: 'api' });
    expect(err.message).toMatch(/^OVH API GET \/cloud\/project\/\w+\/instance: 400 INVALID_SIGNATURE .*: Invalid signature$/);
    // A client error is not retried.
    expect(fake.requestsTo('GET', `/cloud/project/${fake.serviceName}/instance`)).toHaveLength(1);
    const everything = JSON.stringify({ message: err.message, details: err.details, stack: err.stack, logs });
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(fake.consumerKey);

    const status = await ovh.status();
    expect(status.ok).toBe(false);
    expect(status.reason).toContain('INVALID_SIGNATURE');
  });

  it('signs on OVH time when the local clock is an hour off', async () => {
    fake.clockSkewSeconds = 3600;
    const ovh = provider();
    const vm = await ovh.create(spec('skew'), log, never());

    expect(vm.state).toBe('running');
    expect(fake.requestsTo('GET', '/auth/time')).toHaveLength(1);
    expect(fake.requests.filter((r) => r.status === 400)).toHaveLength(0);
  });

  it('re-reads /auth/time when OVH rejects a timestamp, then succeeds', async () => {
    const ovh = provider();
    await ovh.listManaged();
    fake.clockSkewSeconds = -900;
    expect(await ovh.listManaged()).toEqual([]);

    expect(fake.requestsTo('GET', '/auth/time')).toHaveLength(2);
    expect(fake.requests.filter((r) => r.status === 400)).toHaveLength(1);
  });

  it('retries a GET that got a 503 and succeeds', async () => {
    fake.fault('GET /cloud/project/:sn/instance', { respond: 503, message: 'Service temporarily unavailable' });
    const vm = await provider().create(spec('r503'), log, never());

    expect(vm.state).toBe('running');
    const lists = fake.requestsTo('GET', `/cloud/project/${fake.serviceName}/instance`);
    expect(lists[0]!.status).toBe(503);
    expect(lists[1]!.status).toBe(200);
    expect(logs.some((l) => /503 .*Service temporarily unavailable; retrying in \d+ ms \(attempt 2 of 3\)/.test(l))).toBe(true);
  });

  it('gives up after the retries with the last error', async () => {
    fake.fault('GET /cloud/project/:sn/instance', { respond: 503, times: 3 });
    const err = await rejection(provider().listManaged());
    expect(err).toMatchObject({ httpStatus: 503, code: 'ovh_api_error' });
    expect(fake.requestsTo('GET', `/cloud/project/${fake.serviceName}/instance`)).toHaveLength(3);
  });

  it('turns a hanging endpoint into a timeout error', async () => {
    fake.fault('GET /cloud/project/:sn/instance', { hangMs: 5000, times: 2 });
    const ovh = provider({ client: client({ timeoutMs: 150, retries: 1 }) });
    const started = Date.now();
    const err = await rejection(ovh.inspect({ vmId: 'h1', providerId: null }));

    expect(err).toBeInstanceOf(OvhApiError);
    expect(err).toMatchObject({ kind: 'timeout', code: 'ovh_timeout', httpStatus: null });
    expect(err.message).toBe(`OVH API GET /cloud/project/${fake.serviceName}/instance: no answer within 150 ms`);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('retries a GET that timed out once', async () => {
    fake.fault('GET /cloud/project/:sn/instance', { hangMs: 5000 });
    const ovh = provider({ client: client({ timeoutMs: 150, retries: 1 }) });
    expect((await ovh.inspect({ vmId: 'h2', providerId: null })).state).toBe('missing');
  });

  it('says which credentials problem status() found', async () => {
    expect(await provider().status()).toEqual({ ok: true });

    const unconfigured = provider({ client: client({ credentials: { applicationKey: '', applicationSecret: '', consumerKey: '' } }) });
    expect(await unconfigured.status()).toMatchObject({ ok: false, reason: expect.stringContaining('not configured') });

    const unknownConsumer = provider({ client: client({ credentials: { ...fake.credentials, consumerKey: 'revoked' } }) });
    const status = await unknownConsumer.status();
    expect(status.ok).toBe(false);
    expect(status.reason).toMatch(/OVH rejected the credentials: .*403 INVALID_CREDENTIAL/);

    const closedPort = await freePort();
    const unreachable = provider({ client: client({ endpoint: `http://127.0.0.1:${closedPort}/1.0`, retries: 0 }) });
    expect((await unreachable.status()).reason).toBe(`OVH API is not answering at http://127.0.0.1:${closedPort}/1.0: ECONNREFUSED`);
  });
});

describe('OvhProvider lifecycle', () => {
  it('stops, starts, inspects and destroys a VM', async () => {
    const ovh = provider();
    const created = await ovh.create(spec('l1'), log, never());
    const ref = { vmId: 'l1', providerId: created.providerId };

    const stopped = await ovh.stop(ref, log, never());
    expect(stopped).toMatchObject({ state: 'stopped', host: null, sshPort: null });
    expect(fake.instances()[0]!.status).toBe('SHUTOFF');
    expect(logs.some((l) => l.includes('OVH still bills a stopped instance'))).toBe(true);
    // Stopping again is a no-op.
    expect((await ovh.stop(ref, log, never())).state).toBe('stopped');

    const started = await ovh.start(ref, log, never());
    expect(started).toMatchObject({ state: 'running', host: created.host, sshPort: 22 });
    expect(await ovh.inspect(ref)).toMatchObject({ state: 'running', providerId: created.providerId });

    await ovh.destroy(ref, log, never());
    expect(fake.instances().filter((i) => i.status !== 'DELETED')).toEqual([]);
    expect(fake.keys()).toEqual([]);
    expect(await ovh.inspect(ref)).toMatchObject({ state: 'missing', host: null });
  });

  it('destroys by name when the provider id was never recorded', async () => {
    const ovh = provider();
    await ovh.create(spec('n1'), log, never());
    await ovh.destroy({ vmId: 'n1', providerId: null }, log, never());
    expect(fake.instances().filter((i) => i.status !== 'DELETED')).toEqual([]);
    expect(fake.keys()).toEqual([]);
  });

  it('succeeds destroying an instance that is already gone', async () => {
    const ovh = provider();
    await ovh.destroy({ vmId: 'ghost', providerId: '6a0e2f59-0000-4000-8000-000000000000' }, log, never());
    await ovh.destroy({ vmId: 'ghost', providerId: null }, log, never());
    expect(logs).toContain('OVH instance 6a0e2f59-0000-4000-8000-000000000000 was already gone');
  });

  it('refuses to start a VM that has no instance', async () => {
    const err = await rejection(provider().start({ vmId: 'none', providerId: null }, log, never()));
    expect(err.code).toBe('ovh_instance_missing');
  });

  it('lists only the instances carrying the prefix', async () => {
    fake.seedInstance('someone-elses-server');
    const ovh = provider();
    const vm = await ovh.create(spec('m1'), log, never());
    expect(await ovh.listManaged()).toEqual([expect.objectContaining({ vmId: 'm1', providerId: vm.providerId, state: 'running' })]);
  });
});
