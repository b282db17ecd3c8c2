import type Docker from 'dockerode';
import { AppError } from '../../platform/errors.ts';
import type { ProviderLog, ProviderRef, ProviderStatus, ProviderVm, VmProvider, VmSpec } from '../provider.ts';
import { assertLoginName, assertPublicKeyLine, authorizeRootKeyBeforeStart, ensureLogin } from './container-login.ts';
import { exitedError, sshTimeout } from './container-failures.ts';
import { ContainerLookup, missingDetail, vmMissing } from './container-lookup.ts';
import { containerName, managedLabelFilter, sanitizeVmName, VM_LABEL, vmLabels } from './container-naming.ts';
import { hostKeyFingerprint, readHostKeys, SshBannerTimeout, waitForSshBanner } from './container-ssh.ts';
import { LOOPBACK, publishedSshPort, SSH_PORT_KEY, toProviderVm } from './container-state.ts';
import { assertDockerReachable, describeDockerEndpoint } from './docker-engine.ts';
import { engineFailure, engineMessage, httpStatusOf, isNotFound, isNotModified } from './docker-errors.ts';
import { DISK_WITHOUT_PQUOTA, engineLimits, isStorageOptRefusal, type EngineLimits } from './docker-storage.ts';
import { buildVmImage, DEFAULT_VM_IMAGE, imageExists } from './vm-image.ts';

export interface DockerProviderOptions {
  docker: Docker;
  /** Image for VMs whose spec names none: the VM_IMAGE setting when set, else DEFAULT_VM_IMAGE. */
  image?: string;
  /** How long sshd may take to send its banner after a start (first boot ~1 s here, mostly RSA key generation). */
  sshReadyTimeoutMs?: number;
  /** Processes a VM may run at once (a fork bomb inside stays inside). */
  pidsLimit?: number;
  /**
   * This console's identity (console_identity.id). Set, new containers carry it as a label and
   * listManaged reports only containers carrying it, so a console never sees (and its reconciler
   * never destroys) another console's or a test run's containers on a shared dockerd.
   */
  consoleId?: string;
}

const STOP_GRACE_SECONDS = 10;


/**
 * VMs as local containers of an image that runs sshd, through the Docker Engine API only.
 * The label `vm-orchestrator.vm=<vmId>` is the idempotency key: every action finds the VM's
 * container by it, so a redelivered create reuses what an earlier run made, and the
 * deterministic container name makes two racing creates collide (409) instead of doubling.
 * sshd is published on 127.0.0.1 only, on an ephemeral port re-read after every start.
 */
export class DockerProvider implements VmProvider {
  readonly name = 'docker';
  readonly image: string;
  private readonly docker: Docker;
  private readonly lookup: ContainerLookup;
  private readonly sshReadyTimeoutMs: number;
  private readonly pidsLimit: number;
  private readonly consoleId: string | undefined;
  private limits: Promise<EngineLimits> | null = null;
  /** Set when the engine refused a disk size despite overlay2 on xfs (no pquota): later creates leave it out. */
  private diskRefused = false;
  /** One build of an image at a time in this process; a second create waits for the first build. */
  private readonly imageBuilds = new Map<string, Promise<void>>();

  constructor(options: DockerProviderOptions) {
    this.docker = options.docker;
    this.lookup = new ContainerLookup(options.docker);
    this.image = options.image ?? DEFAULT_VM_IMAGE;
    this.sshReadyTimeoutMs = options.sshReadyTimeoutMs ?? 60_000;
    this.pidsLimit = options.pidsLimit ?? 512;
    this.consoleId = options.consoleId;
  }

  async status(): Promise<ProviderStatus> {
    try {
      await assertDockerReachable(this.docker);
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Limits this engine cannot enforce, known before any create (read once from `docker.info()`). */
  async notEnforced(): Promise<string[]> {
    const limits = await this.engineLimits();
    return [...limits.notEnforced, ...(this.diskRefused ? [DISK_WITHOUT_PQUOTA] : [])];
  }

  async create(spec: VmSpec, log: ProviderLog, signal: AbortSignal): Promise<ProviderVm> {
    signal.throwIfAborted();
    // Checked before anything is made: a bad name or key would otherwise fail after the start.
    assertLoginName(spec.sshUser);
    assertPublicKeyLine(spec.sshPublicKey);
    const began = Date.now();

    let container = await this.lookup.findByLabel(spec.vmId, log);
    let keyInPlace = false;
    if (container) {
      log(`Container ${await this.lookup.displayName(container)} exists already for this VM: using it`);
    } else {
      const image = spec.image ?? this.image;
      await this.ensureImage(image, log, signal);
      signal.throwIfAborted();
      const made = await this.createContainer(spec, image, log);
      container = made.container;
      if (made.fresh && spec.sshUser === 'root') {
        // Before the first start, so sshd never runs without the console's key; exec is not possible yet.
        await authorizeRootKeyBeforeStart(container, spec.sshPublicKey).catch((err) => {
          throw engineFailure(this.docker, err, 'copy the SSH key into the container');
        });
        log('Authorized the console\'s SSH key for root');
        keyInPlace = true;
      }
    }

    const vm = await this.bringUp(container, spec.vmId, log, signal, began, keyInPlace ? null : { user: spec.sshUser, key: spec.sshPublicKey });
    const info = await this.lookup.inspectOrMissing(container, spec.vmId);
    return { ...vm, notEnforced: await this.notEnforcedFor(info) };
  }

  async start(ref: ProviderRef, log: ProviderLog, signal: AbortSignal): Promise<ProviderVm> {
    signal.throwIfAborted();
    const { container } = await this.lookup.require(ref);
    return this.bringUp(container, ref.vmId, log, signal, Date.now(), null);
  }

  async stop(ref: ProviderRef, log: ProviderLog, signal: AbortSignal): Promise<ProviderVm> {
    signal.throwIfAborted();
    const { container, info } = await this.lookup.require(ref);
    const name = info.Name.replace(/^\//, '');
    log(`Stopping container ${name} (sshd gets ${STOP_GRACE_SECONDS} s to exit)`);
    const t0 = Date.now();
    try {
      await container.stop({ t: STOP_GRACE_SECONDS });
      log(`Container ${name} stopped in ${Date.now() - t0} ms`);
    } catch (err) {
      if (isNotFound(err)) throw vmMissing(ref);
      if (!isNotModified(err)) throw engineFailure(this.docker, err, `stop container ${name}`);
      log(`Container ${name} was already stopped`);
    }
    return { vmId: ref.vmId, providerId: container.id, state: 'stopped', host: null, sshPort: null };
  }

  async destroy(ref: ProviderRef, log: ProviderLog, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    // The recorded id and everything labelled for the VM: a create that died before its id was
    // recorded (providerId null) or a lost race may have left a container the record does not name.
    const ids = new Set<string>();
    if (ref.providerId) {
      const byId = await this.lookup.inspectById(ref.providerId);
      if (byId && byId.Config.Labels?.[VM_LABEL] === ref.vmId) ids.add(byId.Id);
      else if (byId) log(`Container ${ref.providerId.slice(0, 12)} is not labelled for this VM; leaving it alone`);
    }
    for (const c of await this.lookup.listByLabel(ref.vmId)) ids.add(c.Id);
    if (ids.size === 0) {
      log('No container left for this VM: already removed');
      return;
    }
    for (const id of ids) {
      try {
        await this.docker.getContainer(id).remove({ force: true, v: true });
        log(`Removed container ${id.slice(0, 12)} and its anonymous volumes`);
      } catch (err) {
        if (isNotFound(err)) {
          log(`Container ${id.slice(0, 12)} was already gone`);
        } else if (httpStatusOf(err) === 409 && /already in progress/i.test(engineMessage(err))) {
          // Another destroy (a redelivery) is removing it; done when it is gone.
          await this.lookup.waitUntilGone(id, signal);
          log(`Container ${id.slice(0, 12)} removed (by a concurrent destroy)`);
        } else {
          throw engineFailure(this.docker, err, `remove container ${id.slice(0, 12)}`);
        }
      }
    }
  }

  async inspect(ref: ProviderRef): Promise<ProviderVm> {
    const found = await this.lookup.locate(ref);
    if (!found) return { vmId: ref.vmId, providerId: ref.providerId, state: 'missing', host: null, sshPort: null, detail: missingDetail(ref) };
    return toProviderVm(ref.vmId, found.info);
  }

  async listManaged(): Promise<ProviderVm[]> {
    let listed: Docker.ContainerInfo[];
    try {
      listed = await this.docker.listContainers({ all: true, filters: managedLabelFilter(this.consoleId) });
    } catch (err) {
      throw engineFailure(this.docker, err, 'list containers');
    }
    const vms = await Promise.all(
      listed.map(async (c) => {
        const info = await this.lookup.inspectById(c.Id);
        const vmId = info?.Config.Labels?.[VM_LABEL];
        return info && vmId ? toProviderVm(vmId, info) : null;
      }),
    );
    return vms.filter((vm): vm is ProviderVm => vm !== null);
  }

  // ── steps ──────────────────────────────────────────────────────────────────────────────

  /**
   * Starts the container (already running is fine), re-reads its port, waits for sshd's banner,
   * sets up the login when asked, and reads the host keys. The container is left as it is on
   * failure: a retried operation finds it and carries on.
   */
  private async bringUp(
    container: Docker.Container,
    vmId: string,
    log: ProviderLog,
    signal: AbortSignal,
    began: number,
    login: { user: string; key: string } | null,
  ): Promise<ProviderVm> {
    signal.throwIfAborted();
    const name = await this.lookup.displayName(container);
    log(`Starting container ${name}`);
    try {
      await container.start();
    } catch (err) {
      if (isNotFound(err)) throw vmMissing({ vmId, providerId: container.id });
      if (!isNotModified(err)) throw engineFailure(this.docker, err, `start container ${name}`);
      log(`Container ${name} was already running`);
    }

    // The ephemeral port changes on every start: never reuse an earlier one.
    const info = await this.lookup.inspectOrMissing(container, vmId);
    if (!info.State.Running) throw await exitedError(container, info, 'starting');
    const port = publishedSshPort(info);
    if (!port) {
      throw new AppError(502, 'vm_port_unpublished', `Container ${name} runs but the engine published no host port for ${SSH_PORT_KEY}; destroy the VM and create it again`, {
        ports: info.NetworkSettings.Ports ?? {},
      });
    }

    log(`Waiting for sshd on ${LOOPBACK}:${port}`);
    let ready;
    try {
      ready = await waitForSshBanner(LOOPBACK, port, {
        timeoutMs: this.sshReadyTimeoutMs,
        signal,
        check: async () => {
          const now = await this.lookup.inspectOrMissing(container, vmId);
          if (!now.State.Running) throw await exitedError(container, now, 'waiting for sshd');
        },
      });
    } catch (err) {
      if (!(err instanceof SshBannerTimeout)) throw err;
      throw await sshTimeout(container, name, err);
    }

    if (login) {
      const done = await ensureLogin(this.docker, container, login.user, login.key).catch((err) => {
        throw engineFailure(this.docker, err, `set up the SSH login for ${login.user}`);
      });
      if (done.created) log(`Created the login ${login.user}`);
      if (done.keyAdded) log(`Authorized the console's SSH key for ${login.user}`);
    }

    const hostKeys = await readHostKeys(this.docker, container).catch((err) => {
      throw engineFailure(this.docker, err, 'read the SSH host keys');
    });
    log(`Host keys read through the Docker API: ${hostKeys.map((k) => `${k.split(' ')[0]} ${hostKeyFingerprint(k)}`).join(', ')}`);
    log(`Ready in ${Date.now() - began} ms: ${ready.banner} on ${LOOPBACK}:${port}`);
    return { vmId, providerId: container.id, state: 'running', host: LOOPBACK, sshPort: port, hostKeys };
  }

  private async ensureImage(image: string, log: ProviderLog, signal: AbortSignal): Promise<void> {
    if (await imageExists(this.docker, image)) return;
    if (image !== DEFAULT_VM_IMAGE) {
      throw new AppError(
        422,
        'vm_image_missing',
        `VM image "${image}" is not in the Docker Engine at ${describeDockerEndpoint(this.docker)}. Load or build it there, or change VM_IMAGE (unset, the console builds its own ${DEFAULT_VM_IMAGE}).`,
        { image },
      );
    }
    let build = this.imageBuilds.get(image);
    if (!build) {
      log(`Building the VM image ${image} … (first create only; about a minute)`);
      build = buildVmImage({ docker: this.docker, name: image, onProgress: log, signal }).then(() => undefined);
      this.imageBuilds.set(image, build);
      build.finally(() => this.imageBuilds.delete(image)).catch(() => {});
    } else {
      log(`Waiting for the build of ${image} another create started`);
    }
    await build;
  }

  /** Creates the container; a racing run that created it first (409 on the name) is reused. */
  private async createContainer(spec: VmSpec, image: string, log: ProviderLog): Promise<{ container: Docker.Container; fresh: boolean }> {
    const name = containerName(spec.vmId, spec.name);
    const limits = await this.engineLimits();
    let withDiskSize = limits.diskSize && !this.diskRefused;
    const body = (): Docker.ContainerCreateOptions => ({
      name,
      Image: image,
      Hostname: sanitizeVmName(spec.name),
      Labels: vmLabels(spec.vmId, spec.name, this.consoleId),
      ExposedPorts: { [SSH_PORT_KEY]: {} },
      HostConfig: {
        // Loopback only: the console (and its SSH proxying) is the way in, never the LAN.
        PortBindings: { [SSH_PORT_KEY]: [{ HostIp: LOOPBACK, HostPort: '' }] },
        NanoCpus: Math.round(spec.vcpus * 1e9),
        Memory: spec.memoryMb * 2 ** 20,
        // Equal to Memory: no swap on top, so the limit is the limit.
        MemorySwap: spec.memoryMb * 2 ** 20,
        PidsLimit: this.pidsLimit,
        RestartPolicy: { Name: 'no' },
        ...(withDiskSize ? { StorageOpt: { size: `${spec.diskGb}G` } } : {}),
      },
    });
    log(
      `Creating container ${name} from ${image}: ${spec.vcpus} vCPU, ${spec.memoryMb} MB memory (no swap), at most ${this.pidsLimit} processes` +
        `${withDiskSize ? `, ${spec.diskGb} GB disk` : ''}; SSH published on ${LOOPBACK} only`,
    );
    for (;;) {
      try {
        return { container: await this.docker.createContainer(body()), fresh: true };
      } catch (err) {
        const status = httpStatusOf(err);
        if (status === 409) {
          const raced = await this.lookup.claimedName(name, spec.vmId);
          log(`Another run created ${name} a moment ago: using it`);
          return { container: raced, fresh: false };
        }
        if (withDiskSize && status === 500 && isStorageOptRefusal(engineMessage(err))) {
          this.diskRefused = true;
          withDiskSize = false;
          log(`The engine refused a disk size (${engineMessage(err)}); creating without one`);
          continue;
        }
        if (status === 404) {
          throw new AppError(422, 'vm_image_missing', `VM image "${image}" disappeared from the Docker Engine before the container was created (${engineMessage(err)})`, { image });
        }
        throw engineFailure(this.docker, err, `create container ${name}`);
      }
    }
  }

  private engineLimits(): Promise<EngineLimits> {
    if (!this.limits) {
      this.limits = this.docker.info().then(
        (info) => engineLimits(info),
        (err) => {
          this.limits = null; // a dead engine now is not a dead engine forever
          throw engineFailure(this.docker, err, 'report its capabilities');
        },
      );
    }
    return this.limits;
  }

  /** The engine's notes, plus one when this container has no disk size although the engine allows it. */
  private async notEnforcedFor(info: Docker.ContainerInspectInfo): Promise<string[]> {
    const notes = await this.notEnforced();
    if (!info.HostConfig.StorageOpt?.size && !notes.some((n) => n.startsWith('disk size'))) notes.push('disk size not enforced: this container was created without one');
    return notes;
  }
}
