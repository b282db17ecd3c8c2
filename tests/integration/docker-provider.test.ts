import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_LABEL, VM_LABEL } from '../../server/providers/docker/container-naming.ts';
import { DockerProvider } from '../../server/providers/docker/docker.provider.ts';
import { backingFilesystem } from '../../server/providers/docker/docker-storage.ts';
import { DEFAULT_VM_IMAGE } from '../../server/providers/docker/vm-image.ts';
import type { ProviderVm, VmSpec } from '../../server/providers/provider.ts';
import { dockerForTests, removeContainersLabelled } from '../helpers/docker.ts';

/**
 * The Docker provider against the real dockerd: real containers of the VM image, real sshd
 * inside, real SSH logins whose host key is checked against the keys the provider read
 * through the Docker API. Each suite run labels its containers with its own console id, so
 * listManaged can be checked exactly while other suites use the same dockerd.
 */
const { Client, utils } = ssh2;
const docker = await dockerForTests();

const consoleId = `test-${randomUUID()}`;
const clientKey = utils.generateKeyPairSync('ed25519');
const otherKey = utils.generateKeyPairSync('ed25519');
const never = () => new AbortController().signal;

function spec(overrides: Partial<VmSpec> = {}): VmSpec {
  return { vmId: randomUUID(), name: 'Test VM', vcpus: 1, memoryMb: 256, diskGb: 5, sshPublicKey: clientKey.public, sshUser: 'root', ...overrides };
}

function collector() {
  const lines: string[] = [];
  return { lines, log: (line: string) => void lines.push(line) };
}

interface SshResult {
  stdout: string;
  code: number | null;
  /** The host key the server presented matched one the provider returned. */
  verified: boolean;
}

/** Logs in with the pinned host keys only (no trust on first use) and runs one command. */
function sshRun(target: { host: string | null; sshPort: number | null }, pinned: string[], username: string, privateKey: string, command: string): Promise<SshResult> {
  const blobs = pinned.map((k) => Buffer.from(k.split(' ')[1]!, 'base64'));
  return new Promise((resolve, reject) => {
    let verified = false;
    const conn = new Client();
    conn
      .on('ready', () => {
        conn.exec(command, (err, stream) => {
          if (err) return reject(err);
          let stdout = '';
          stream.on('data', (d: Buffer) => (stdout += d.toString()));
          stream.stderr.on('data', () => {});
          stream.on('close', (code: number | null) => {
            conn.end();
            resolve({ stdout, code, verified });
          });
        });
      })
      .on('error', reject)
      .connect({
        host: target.host!,
        port: target.sshPort!,
        username,
        privateKey,
        readyTimeout: 15_000,
        hostVerifier: (key: Buffer) => (verified = blobs.some((b) => b.equals(key))),
      });
  });
}

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe.skipIf(!docker)('DockerProvider (real dockerd)', () => {
  const engine = docker as Docker;
  const provider = new DockerProvider({ docker: engine, consoleId, sshReadyTimeoutMs: 30_000 });
  /** Every VM id this file creates, removed in afterAll whatever happened. */
  const made = new Set<string>();
  const create = async (s: VmSpec, log = collector().log, p = provider) => {
    made.add(s.vmId);
    return p.create(s, log, never());
  };
  const containerCount = async (vmId: string) => (await engine.listContainers({ all: true, filters: { label: [`${VM_LABEL}=${vmId}`] } })).length;

  // Two long-lived VMs: root, and a non-root login.
  const rootSpec = spec({ name: 'Root VM ✓' });
  const devSpec = spec({ name: 'dev box', sshUser: 'dev' });
  const rootLog = collector();
  let rootVm: ProviderVm;
  let devVm: ProviderVm;
  let createMs: number;

  beforeAll(async () => {
    const t0 = Date.now();
    [rootVm, devVm] = await Promise.all([create(rootSpec, rootLog.log), create(devSpec)]);
    createMs = Date.now() - t0;
  });

  afterAll(async () => {
    for (const vmId of made) await removeContainersLabelled(engine, `${VM_LABEL}=${vmId}`);
    await removeContainersLabelled(engine, `${CONSOLE_LABEL}=${consoleId}`);
  });

  it('creates a VM root logs into with the console key, the host key pinned from the Docker API, within its limits', async () => {
    expect(rootVm).toMatchObject({ vmId: rootSpec.vmId, state: 'running', host: '127.0.0.1' });
    expect(rootVm.sshPort).toBeGreaterThan(0);
    expect(rootVm.providerId).toMatch(/^[0-9a-f]{64}$/);
    // Type and base64 only, the comment dropped; one line per key type the image makes.
    expect(rootVm.hostKeys).toEqual(expect.arrayContaining([expect.stringMatching(/^ssh-ed25519 [A-Za-z0-9+/]+=*$/)]));
    for (const k of rootVm.hostKeys!) expect(k).toMatch(/^[a-z0-9-]+ [A-Za-z0-9+/]+=*$/);
    expect(rootVm.notEnforced).toEqual(await provider.notEnforced());

    const r = await sshRun(rootVm, rootVm.hostKeys!, 'root', clientKey.private,
      'id -un; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ' +
      'cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max; hostname');
    expect(r.verified).toBe(true);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['root', String(256 * 2 ** 20), '512', 'root-vm']);

    // Progress is in the job log; key material is not.
    expect(rootLog.lines.some((l) => l.startsWith('Creating container vmo-'))).toBe(true);
    expect(rootLog.lines.some((l) => /^Waiting for sshd on 127\.0\.0\.1:\d+$/.test(l))).toBe(true);
    expect(rootLog.lines.some((l) => /^Ready in \d+ ms: SSH-2\.0-/.test(l))).toBe(true);
    const everything = rootLog.lines.join('\n');
    for (const secret of [clientKey.public.split(' ')[1]!, ...rootVm.hostKeys!.map((k) => k.split(' ')[1]!)]) expect(everything).not.toContain(secret);
    expect(everything).not.toContain('PRIVATE KEY');
    expect(createMs).toBeLessThan(20_000);
  });

  it('publishes SSH on 127.0.0.1 only and gives the container the CPU, memory and process limits', async () => {
    const info = await engine.getContainer(rootVm.providerId!).inspect();
    expect(info.Name).toBe(`/vmo-${rootSpec.vmId.replace(/-/g, '').slice(0, 12)}-root-vm`);
    expect(info.Config.Hostname).toBe('root-vm');
    expect(info.Config.Labels).toMatchObject({ [VM_LABEL]: rootSpec.vmId, 'vm-orchestrator.managed': '1', 'vm-orchestrator.name': 'Root VM ✓', [CONSOLE_LABEL]: consoleId });
    expect(info.HostConfig.PortBindings).toEqual({ '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    expect(info.NetworkSettings.Ports['22/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(rootVm.sshPort) }]);
    expect(info.HostConfig).toMatchObject({ NanoCpus: 1e9, Memory: 256 * 2 ** 20, MemorySwap: 256 * 2 ** 20, PidsLimit: 512, RestartPolicy: { Name: 'no' } });
    // A disk size only where the engine can enforce it; otherwise the VM says so.
    if (rootVm.notEnforced!.some((n) => n.startsWith('disk size'))) expect(info.HostConfig.StorageOpt ?? {}).toEqual({});
    else expect(info.HostConfig.StorageOpt).toEqual({ size: '5G' });
  });

  it('gives each VM its own host keys, and a login pinned to another VM\'s keys is refused', async () => {
    expect(devVm.hostKeys!.filter((k) => rootVm.hostKeys!.includes(k))).toEqual([]);
    const err = await rejection(sshRun(rootVm, devVm.hostKeys!, 'root', clientKey.private, 'true'));
    expect(String(err.message)).toMatch(/host|verif/i);
  });

  it('creates a non-root login with its key in ~/.ssh, owned by it, and authorizes nothing for root', async () => {
    const r = await sshRun(devVm, devVm.hostKeys!, 'dev', clientKey.private, 'id -un; pwd; stat -c "%a %U %G" ~/.ssh ~/.ssh/authorized_keys; wc -l < ~/.ssh/authorized_keys');
    expect(r.verified).toBe(true);
    expect(r.stdout.trim().split('\n')).toEqual(['dev', '/home/dev', '700 dev dev', '600 dev dev', '1']);
    const asRoot = await rejection(sshRun(devVm, devVm.hostKeys!, 'root', clientKey.private, 'true'));
    expect(String(asRoot.message)).toMatch(/authentication/i);
  });

  it('lists exactly the containers of its own console', async () => {
    const listed = await provider.listManaged();
    expect(listed.map((v) => v.vmId).sort()).toEqual([rootSpec.vmId, devSpec.vmId].sort());
    expect(listed.find((v) => v.vmId === rootSpec.vmId)).toMatchObject({ state: 'running', providerId: rootVm.providerId, host: '127.0.0.1', sshPort: rootVm.sshPort });
    // Another console on the same dockerd sees none of them.
    const other = new DockerProvider({ docker: engine, consoleId: `test-${randomUUID()}` });
    expect(await other.listManaged()).toEqual([]);
  });

  it('makes one container when a create is delivered again, or when two runs of it race', async () => {
    const again = collector();
    const second = await create(rootSpec, again.log);
    expect(second.providerId).toBe(rootVm.providerId);
    expect(second.hostKeys).toEqual(rootVm.hostKeys);
    expect(again.lines.some((l) => l.includes('exists already'))).toBe(true);
    expect(await containerCount(rootSpec.vmId)).toBe(1);
    // The redelivery did not write the key a second time.
    const r = await sshRun(second, second.hostKeys!, 'root', clientKey.private, 'wc -l < /root/.ssh/authorized_keys');
    expect(r.stdout.trim()).toBe('1');

    const raced = spec({ name: 'race' });
    const [a, b] = await Promise.all([create(raced), create(raced)]);
    expect(a.providerId).toBe(b.providerId);
    expect(await containerCount(raced.vmId)).toBe(1);
    expect((await sshRun(a, a.hostKeys!, 'root', clientKey.private, 'wc -l < /root/.ssh/authorized_keys')).stdout.trim()).toBe('1');
    await provider.destroy(a, () => {}, never());
  });

  it('stops, then starts on a newly read port where SSH answers with the same host keys', async () => {
    const s = spec({ name: 'stop start' });
    const vm = await create(s);
    const stopped = await provider.stop(vm, () => {}, never());
    expect(stopped).toMatchObject({ vmId: s.vmId, providerId: vm.providerId, state: 'stopped', host: null, sshPort: null });
    expect(await provider.inspect(vm)).toMatchObject({ state: 'stopped', host: null, sshPort: null });
    // A second stop is fine (already stopped).
    await provider.stop(vm, () => {}, never());

    const started = await provider.start(vm, () => {}, never());
    expect(started).toMatchObject({ state: 'running', host: '127.0.0.1', providerId: vm.providerId });
    const published = (await engine.getContainer(vm.providerId!).inspect()).NetworkSettings.Ports['22/tcp']![0]!.HostPort;
    expect(started.sshPort).toBe(Number(published));
    expect(started.sshPort).not.toBe(vm.sshPort);
    expect(started.hostKeys).toEqual(vm.hostKeys);
    const r = await sshRun(started, vm.hostKeys!, 'root', clientKey.private, 'echo back');
    expect(r).toMatchObject({ stdout: 'back\n', verified: true });
    expect(await provider.inspect({ vmId: s.vmId, providerId: null })).toMatchObject({ state: 'running', sshPort: started.sshPort });
  });

  it('destroys a VM, and destroying it again succeeds', async () => {
    const vm = await create(spec({ name: 'doomed' }));
    const log = collector();
    await provider.destroy(vm, log.log, never());
    expect(log.lines.some((l) => l.startsWith('Removed container'))).toBe(true);
    expect(await provider.inspect(vm)).toMatchObject({ state: 'missing', host: null, sshPort: null });
    expect(await containerCount(vm.vmId)).toBe(0);
    await provider.destroy(vm, () => {}, never());
  });

  it('finds the container by label when a create died before its id was recorded', async () => {
    const vm = await create(spec({ name: 'unrecorded' }));
    await provider.destroy({ vmId: vm.vmId, providerId: null }, () => {}, never());
    expect(await containerCount(vm.vmId)).toBe(0);
  });

  it('reports a container removed behind its back as missing, refuses to start or stop it, and destroys it fine', async () => {
    const vm = await create(spec({ name: 'removed' }));
    await engine.getContainer(vm.providerId!).remove({ force: true });

    expect(await provider.inspect(vm)).toMatchObject({ vmId: vm.vmId, state: 'missing', detail: expect.stringContaining(vm.vmId) });
    const startErr = await rejection(provider.start(vm, () => {}, never()));
    expect(startErr).toMatchObject({ code: 'vm_missing' });
    expect(startErr.message).toMatch(/removed outside the console/);
    expect(await rejection(provider.stop(vm, () => {}, never()))).toMatchObject({ code: 'vm_missing' });
    await provider.destroy(vm, () => {}, never());
  });

  it('answers status, and says which limits this engine cannot enforce', async () => {
    expect(await provider.status()).toEqual({ ok: true });
    const info = await engine.info();
    const notes = await provider.notEnforced();
    if (!(info.Driver === 'overlay2' && backingFilesystem(info) === 'xfs')) {
      expect(notes).toContain(`disk size not enforced: ${info.Driver} on ${backingFilesystem(info)}`);
    }
  });

  it('says where it looked and what to do when dockerd does not answer', async () => {
    const Dockerode = (await import('dockerode')).default;
    const nowhere = new DockerProvider({ docker: new Dockerode({ socketPath: '/tmp/vmo-no-dockerd-here.sock' }) });
    const status = await nowhere.status();
    expect(status.ok).toBe(false);
    expect(status.reason).toContain('unix:///tmp/vmo-no-dockerd-here.sock');
    expect(status.reason).toContain('Start dockerd');
    expect(await rejection(nowhere.create(spec(), () => {}, never()))).toMatchObject({ code: 'docker_unreachable' });
  });

  it('refuses a custom image that is not there, naming VM_IMAGE, and makes nothing', async () => {
    const custom = new DockerProvider({ docker: engine, consoleId, image: `vm-orchestrator/not-built-${randomUUID().slice(0, 8)}:1` });
    const s = spec();
    const err = await rejection(create(s, undefined, custom));
    expect(err).toMatchObject({ code: 'vm_image_missing' });
    expect(err.message).toMatch(/VM_IMAGE/);
    expect(await containerCount(s.vmId)).toBe(0);
  });

  it('refuses a login name that is not a Unix user name before making anything', async () => {
    const s = spec({ sshUser: 'root; rm -rf /' });
    expect(await rejection(create(s))).toMatchObject({ code: 'validation_failed' });
    expect(await containerCount(s.vmId)).toBe(0);
    expect(await rejection(create(spec({ sshPublicKey: `${otherKey.public}\nssh-ed25519 AAAA extra` })))).toMatchObject({ code: 'validation_failed' });
  });

  describe('when the VM does not come up', () => {
    const tag = randomUUID().slice(0, 8);
    const images = {
      silent: `vmo-test/no-sshd:${tag}`,
      crashing: `vmo-test/crashing:${tag}`,
    };

    beforeAll(async () => {
      // Images from the VM image with another command: no registry, no build, a commit each.
      const base = await engine.createContainer({ Image: DEFAULT_VM_IMAGE, Labels: { [CONSOLE_LABEL]: consoleId } });
      try {
        await base.commit({ repo: `vmo-test/no-sshd`, tag, changes: 'CMD ["sh", "-c", "echo pretend-sshd: not listening >&2; exec sleep infinity"]' });
        await base.commit({ repo: `vmo-test/crashing`, tag, changes: 'CMD ["sh", "-c", "echo boom: bad config >&2; exit 3"]' });
      } finally {
        await base.remove({ force: true });
      }
    });

    afterAll(async () => {
      for (const vmId of made) await removeContainersLabelled(engine, `${VM_LABEL}=${vmId}`);
      for (const image of Object.values(images)) await engine.getImage(image).remove({ force: true }).catch(() => {});
    });

    it('fails with the last lines of the container log when sshd never answers', async () => {
      const impatient = new DockerProvider({ docker: engine, consoleId, sshReadyTimeoutMs: 1500 });
      const t0 = Date.now();
      const err = await rejection(create(spec({ image: images.silent }), undefined, impatient));
      expect(err).toMatchObject({ code: 'vm_ssh_timeout' });
      expect(err.message).toContain('did not answer on 127.0.0.1:');
      expect(err.message).toContain('pretend-sshd: not listening');
      expect(err.details.logTail).toEqual(['pretend-sshd: not listening']);
      expect(Date.now() - t0).toBeLessThan(10_000);
    });

    it('fails fast with the exit code and log when the container exits instead of serving SSH', async () => {
      const t0 = Date.now();
      const err = await rejection(create(spec({ image: images.crashing })));
      expect(err).toMatchObject({ code: 'vm_exited', details: { exitCode: 3 } });
      expect(err.message).toContain('boom: bad config');
      // Far sooner than the 30 s banner timeout.
      expect(Date.now() - t0).toBeLessThan(10_000);
    });

    it('stops waiting for sshd when the operation is aborted', async () => {
      const controller = new AbortController();
      let abortedAt = 0;
      const log = (line: string) => {
        if (line.startsWith('Waiting for sshd')) {
          setTimeout(() => {
            abortedAt = Date.now();
            controller.abort(new Error('operation cancelled'));
          }, 200);
        }
      };
      const s = spec({ image: images.silent });
      made.add(s.vmId);
      const err = await rejection(provider.create(s, log, controller.signal));
      expect(err.message).toBe('operation cancelled');
      expect(Date.now() - abortedAt).toBeLessThan(1000);
    });
  });
});
