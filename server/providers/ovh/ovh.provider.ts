import { AppError } from '../../platform/errors.ts';
import type { ProviderLog, ProviderRef, ProviderStatus, ProviderVm, VmProvider, VmSpec } from '../provider.ts';
import type { OvhCreateInstanceBody, OvhFlavor, OvhImage, OvhInstance, OvhSshKey } from './ovh-api.types.ts';
import { sleep, type OvhClient } from './ovh-client.ts';
import { loginUserData } from './ovh-cloud-init.ts';
import { OvhApiError } from './ovh-errors.ts';
import { engineState, pickFlavor, pickImage, publicIpv4, sameSshKey, survivor } from './ovh-selection.ts';

export interface OvhProviderOptions {
  client: OvhClient;
  /** The Public Cloud project id (`serviceName` in OVH's paths). */
  serviceName: string;
  /** e.g. `GRA11`; every VM of this console lives there. */
  region: string;
  /** Image name used when a spec names none, e.g. `Debian 12`. */
  defaultImage: string;
  /** How often to re-read an instance while waiting for a status. */
  pollMs: number;
  /** How long a new instance may take to become ACTIVE with a public address. */
  createTimeoutMs: number;
  /** How long start, stop and delete may take; `createTimeoutMs` when absent. */
  actionTimeoutMs?: number;
  /** Instances and SSH keys are named `<namePrefix><vmId>`; the prefix marks what this console manages. */
  namePrefix: string;
}

const SSH_PORT = 22;

type Wanted = { status: 'ACTIVE'; publicIp: true } | { status: 'SHUTOFF'; publicIp: false };

/**
 * VMs as OVH Public Cloud instances. The instance name is the idempotency key: every action
 * first looks for `<namePrefix><vmId>`, so a redelivered or retried job finds what an earlier
 * run made. Each VM gets its own registered SSH key of the same name, removed with it.
 */
export class OvhProvider implements VmProvider {
  readonly name = 'ovh';
  private readonly client: OvhClient;
  private readonly base: string;

  constructor(private readonly options: OvhProviderOptions) {
    this.client = options.client;
    this.base = `/cloud/project/${encodeURIComponent(options.serviceName)}`;
  }

  instanceName(vmId: string): string {
    return `${this.options.namePrefix}${vmId}`;
  }

  async status(): Promise<ProviderStatus> {
    if (!this.client.configured) {
      return { ok: false, reason: 'OVH API credentials are not configured (application key, application secret and consumer key are all needed)' };
    }
    const signal = AbortSignal.timeout(15_000);
    try {
      await this.client.serverTime(signal);
    } catch (err) {
      const why = err instanceof OvhApiError && err.kind !== 'api' ? err.reason : messageOf(err);
      return { ok: false, reason: `OVH API is not answering at ${this.client.endpoint}: ${why}` };
    }
    try {
      await this.client.get(this.base, { signal });
      return { ok: true };
    } catch (err) {
      if (err instanceof OvhApiError && err.httpStatus === 403) return { ok: false, reason: `OVH rejected the credentials: ${err.message}` };
      if (err instanceof OvhApiError && err.httpStatus === 404) {
        return { ok: false, reason: `OVH project ${this.options.serviceName} does not exist or these credentials cannot see it` };
      }
      return { ok: false, reason: messageOf(err) };
    }
  }

  async create(spec: VmSpec, log: ProviderLog, signal: AbortSignal): Promise<ProviderVm> {
    signal.throwIfAborted();
    const name = this.instanceName(spec.vmId);
    const existing = await this.findByName(name, log, signal);
    let ready: OvhInstance;
    if (existing) {
      log(`OVH instance ${name} (${existing.id}) exists already (${existing.status}): using it`);
      if (existing.status === 'ERROR') throw instanceFailed(existing, 'is in ERROR');
      if (engineState(existing.status) === 'stopped') await this.action(existing, 'start', log, signal);
      ready = await this.waitFor(existing, { status: 'ACTIVE', publicIp: true }, this.options.createTimeoutMs, log, signal);
    } else {
      const made = await this.launch(spec, name, log, signal);
      ready = await this.waitFor(made, { status: 'ACTIVE', publicIp: true }, this.options.createTimeoutMs, log, signal);
      // Checked again once built: a racing run may have posted its instance after our first
      // check. By now every racer has posted (a build takes far longer than the gap between
      // them), so all of them see the same set and keep the same one.
      const keep = await this.settleDuplicates(name, ready, log, signal);
      if (keep.id !== ready.id) ready = await this.waitFor(keep, { status: 'ACTIVE', publicIp: true }, this.options.createTimeoutMs, log, signal);
    }
    const flavor = await this.client.get<OvhFlavor>(`${this.base}/flavor/${encodeURIComponent(ready.flavorId)}`, { signal, log });
    const notEnforced = flavor.disk !== spec.diskGb ? [`disk size set by the flavor (${flavor.disk} GB)`] : undefined;
    log(`OVH instance ${name} is running at ${publicIpv4(ready)}`);
    return this.toVm(spec.vmId, ready, notEnforced);
  }

  async start(ref: ProviderRef, log: ProviderLog, signal: AbortSignal): Promise<ProviderVm> {
    const instance = await this.require(ref, log, signal);
    if (instance.status === 'ERROR') throw instanceFailed(instance, 'is in ERROR and cannot be started');
    if (instance.status !== 'ACTIVE') await this.action(instance, 'start', log, signal);
    const ready = await this.waitFor(instance, { status: 'ACTIVE', publicIp: true }, this.actionTimeoutMs, log, signal);
    return this.toVm(ref.vmId, ready);
  }

  async stop(ref: ProviderRef, log: ProviderLog, signal: AbortSignal): Promise<ProviderVm> {
    const instance = await this.require(ref, log, signal);
    if (instance.status !== 'SHUTOFF') await this.action(instance, 'stop', log, signal);
    const stopped = await this.waitFor(instance, { status: 'SHUTOFF', publicIp: false }, this.actionTimeoutMs, log, signal);
    log(`OVH instance ${stopped.name} is SHUTOFF; OVH still bills a stopped instance (only deleting it ends the charge)`);
    return this.toVm(ref.vmId, stopped);
  }

  async destroy(ref: ProviderRef, log: ProviderLog, signal: AbortSignal): Promise<void> {
    const name = this.instanceName(ref.vmId);
    // The providerId and every instance carrying the VM's name: a lost create answer or two
    // racing creates may have left more than one.
    const ids = new Set<string>(ref.providerId ? [ref.providerId] : []);
    for (const instance of await this.listByName(name, log, signal)) ids.add(instance.id);

    for (const id of ids) {
      const gone = await this.deleteIgnoringMissing(`${this.base}/instance/${encodeURIComponent(id)}`, log, signal);
      log(gone ? `OVH instance ${id} was already gone` : `OVH instance ${name} (${id}) deletion requested`);
    }
    for (const id of ids) await this.waitUntilGone(id, name, log, signal);

    const keys = await this.client.get<OvhSshKey[]>(`${this.base}/sshkey`, { query: { region: this.options.region }, signal, log });
    for (const key of keys.filter((k) => k.name === name)) {
      await this.deleteIgnoringMissing(`${this.base}/sshkey/${encodeURIComponent(key.id)}`, log, signal);
      log(`OVH SSH key ${name} deleted`);
    }
  }

  async inspect(ref: ProviderRef): Promise<ProviderVm> {
    const instance = await this.locate(ref, () => {}, undefined);
    if (!instance) {
      return { vmId: ref.vmId, providerId: ref.providerId, state: 'missing', host: null, sshPort: null, detail: `no OVH instance named ${this.instanceName(ref.vmId)} in ${this.options.region}` };
    }
    return this.toVm(ref.vmId, instance);
  }

  async listManaged(): Promise<ProviderVm[]> {
    const prefix = this.options.namePrefix;
    const instances = await this.client.get<OvhInstance[]>(`${this.base}/instance`, { query: { region: this.options.region } });
    return instances
      .filter((i) => i.name.startsWith(prefix) && i.name.length > prefix.length && engineState(i.status) !== 'missing')
      .map((i) => this.toVm(i.name.slice(prefix.length), i));
  }

  private get actionTimeoutMs(): number {
    return this.options.actionTimeoutMs ?? this.options.createTimeoutMs;
  }

  /** Registers the key, picks image and flavor, asks for the instance and settles duplicates. */
  private async launch(spec: VmSpec, name: string, log: ProviderLog, signal: AbortSignal): Promise<OvhInstance> {
    const { region } = this.options;
    const imageName = spec.image ?? this.options.defaultImage;
    const userData = loginUserData(spec.sshUser, spec.sshPublicKey);

    const images = await this.client.get<OvhImage[]>(`${this.base}/image`, { query: { region, osType: 'linux' }, signal, log });
    const image = pickImage(images, region, imageName);
    if (!image.ok) throw new AppError(422, 'ovh_no_image', image.reason);

    const flavors = await this.client.get<OvhFlavor[]>(`${this.base}/flavor`, { query: { region }, signal, log });
    const flavor = pickFlavor(flavors, region, { vcpus: spec.vcpus, memoryMb: spec.memoryMb, minDiskGb: image.image.minDisk });
    if (!flavor.ok) throw new AppError(422, 'ovh_no_flavor', flavor.reason);
    const f = flavor.flavor;
    log(`OVH flavor ${f.name} (${f.vcpus} vCPU, ${f.ram} MB, ${f.disk} GB disk) is the smallest fitting ${spec.vcpus} vCPU / ${spec.memoryMb} MB; image ${image.image.name}`);

    const key = await this.ensureSshKey(name, spec.sshPublicKey, log, signal);
    const body: OvhCreateInstanceBody = {
      name,
      flavorId: f.id,
      imageId: image.image.id,
      region,
      sshKeyId: key.id,
      monthlyBilling: false,
      userData,
    };
    let created: OvhInstance;
    try {
      created = await this.client.post<OvhInstance>(`${this.base}/instance`, body, { signal, log });
    } catch (err) {
      // The create is not retried blindly: when its answer was lost, OVH may have made the
      // instance anyway, and the name tells.
      if (!(err instanceof OvhApiError) || !err.transient) throw err;
      log(`${err.message}; looking for ${name} in case OVH created it anyway`);
      const found = await this.findByName(name, log, signal);
      if (!found) throw err;
      created = found;
    }
    log(`OVH instance ${name} requested (${created.id})`);
    return this.settleDuplicates(name, created, log, signal);
  }

  /**
   * Two runs of one create (a redelivery while the first still ran) can each make an
   * instance. All of them keep the same one (the oldest) and delete the one they made.
   */
  private async settleDuplicates(name: string, mine: OvhInstance, log: ProviderLog, signal: AbortSignal): Promise<OvhInstance> {
    const same = await this.listByName(name, log, signal);
    if (!same.some((i) => i.id === mine.id)) same.push(mine);
    const keep = survivor(same) ?? mine;
    if (keep.id === mine.id) return mine;
    log(`another run created OVH instance ${name} first (${keep.id}); deleting the duplicate ${mine.id}`);
    await this.deleteIgnoringMissing(`${this.base}/instance/${encodeURIComponent(mine.id)}`, log, signal);
    return keep;
  }

  /** The VM's registered key: reused when it holds the same public key, replaced when not. */
  private async ensureSshKey(name: string, publicKey: string, log: ProviderLog, signal: AbortSignal): Promise<OvhSshKey> {
    const region = this.options.region;
    const findKey = async () => {
      const keys = await this.client.get<OvhSshKey[]>(`${this.base}/sshkey`, { query: { region }, signal, log });
      return keys.find((k) => k.name === name) ?? null;
    };
    const existing = await findKey();
    if (existing && sameSshKey(existing.publicKey, publicKey)) {
      log(`OVH SSH key ${name} is registered already`);
      return existing;
    }
    if (existing) {
      log(`OVH SSH key ${name} holds another key; replacing it`);
      await this.deleteIgnoringMissing(`${this.base}/sshkey/${encodeURIComponent(existing.id)}`, log, signal);
    }
    try {
      const key = await this.client.post<OvhSshKey>(`${this.base}/sshkey`, { name, publicKey: publicKey.trim(), region }, { signal, log });
      log(`OVH SSH key ${name} registered`);
      return key;
    } catch (err) {
      // A racing run registered it between our look and our post.
      if (!(err instanceof OvhApiError) || err.httpStatus !== 409) throw err;
      const raced = await findKey();
      if (!raced) throw err;
      return raced;
    }
  }

  /** Asks OVH to start or stop; a 409 means it is already on its way there, which is fine. */
  private async action(instance: OvhInstance, verb: 'start' | 'stop', log: ProviderLog, signal: AbortSignal): Promise<void> {
    try {
      await this.client.post(`${this.base}/instance/${encodeURIComponent(instance.id)}/${verb}`, undefined, { signal, log });
      log(`OVH instance ${instance.name}: ${verb} requested`);
    } catch (err) {
      if (!(err instanceof OvhApiError) || err.httpStatus !== 409) throw err;
      log(`OVH instance ${instance.name}: ${verb} not needed now (${err.reason})`);
    }
  }

  /** Polls the instance until it reaches `want`, logging each status change. */
  private async waitFor(instance: OvhInstance, want: Wanted, timeoutMs: number, log: ProviderLog, signal: AbortSignal): Promise<OvhInstance> {
    const path = `${this.base}/instance/${encodeURIComponent(instance.id)}`;
    const deadline = Date.now() + timeoutMs;
    let last: string | null = null;
    for (;;) {
      signal.throwIfAborted();
      let current: OvhInstance;
      try {
        current = await this.client.get<OvhInstance>(path, { signal, log });
      } catch (err) {
        if (err instanceof OvhApiError && err.notFound) throw instanceFailed(instance, `disappeared while waiting for ${want.status}`);
        throw err;
      }
      const ip = publicIpv4(current);
      const seen = `${current.status}${want.publicIp && current.status === 'ACTIVE' && !ip ? ' (no public IPv4 yet)' : ''}`;
      if (seen !== last) {
        log(`OVH instance ${current.name}: ${last ? `${last} → ${seen}` : seen}`);
        last = seen;
      }
      if (current.status === want.status && (!want.publicIp || ip)) return current;
      if (current.status === 'ERROR') throw instanceFailed(current, `went to ERROR while waiting for ${want.status}`);
      if (engineState(current.status) === 'missing') throw instanceFailed(current, `is ${current.status}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new AppError(504, 'ovh_wait_timeout', `OVH instance ${current.name} (${current.id}) is still ${seen} after ${timeoutMs} ms waiting for ${want.status}${want.publicIp ? ' with a public IPv4' : ''}`, { instanceId: current.id, status: current.status });
      }
      await sleep(Math.min(this.options.pollMs, left), signal);
    }
  }

  private async waitUntilGone(id: string, name: string, log: ProviderLog, signal: AbortSignal): Promise<void> {
    const path = `${this.base}/instance/${encodeURIComponent(id)}`;
    const deadline = Date.now() + this.actionTimeoutMs;
    for (;;) {
      let current: OvhInstance;
      try {
        current = await this.client.get<OvhInstance>(path, { signal, log });
      } catch (err) {
        if (err instanceof OvhApiError && err.notFound) return;
        throw err;
      }
      if (current.status === 'DELETED') return;
      const left = deadline - Date.now();
      if (left <= 0) throw new AppError(504, 'ovh_wait_timeout', `OVH instance ${name} (${id}) is still ${current.status} ${this.actionTimeoutMs} ms after its deletion was requested`);
      await sleep(Math.min(this.options.pollMs, left), signal);
    }
  }

  /** The instance for `ref`, or a clear error when there is none. */
  private async require(ref: ProviderRef, log: ProviderLog, signal: AbortSignal): Promise<OvhInstance> {
    signal.throwIfAborted();
    const instance = await this.locate(ref, log, signal);
    if (!instance) throw new AppError(404, 'ovh_instance_missing', `no OVH instance for VM ${ref.vmId} (${this.instanceName(ref.vmId)}${ref.providerId ? `, id ${ref.providerId}` : ''})`);
    return instance;
  }

  /** By provider id when known and still there, else by name. */
  private async locate(ref: ProviderRef, log: ProviderLog, signal: AbortSignal | undefined): Promise<OvhInstance | null> {
    if (ref.providerId) {
      try {
        const instance = await this.client.get<OvhInstance>(`${this.base}/instance/${encodeURIComponent(ref.providerId)}`, { signal, log });
        if (engineState(instance.status) !== 'missing') return instance;
      } catch (err) {
        if (!(err instanceof OvhApiError) || !err.notFound) throw err;
      }
    }
    return this.findByName(this.instanceName(ref.vmId), log, signal);
  }

  private async findByName(name: string, log: ProviderLog, signal: AbortSignal | undefined): Promise<OvhInstance | null> {
    return survivor(await this.listByName(name, log, signal));
  }

  private async listByName(name: string, log: ProviderLog, signal: AbortSignal | undefined): Promise<OvhInstance[]> {
    const all = await this.client.get<OvhInstance[]>(`${this.base}/instance`, { query: { region: this.options.region }, signal, log });
    return all.filter((i) => i.name === name && engineState(i.status) !== 'missing');
  }

  /** DELETE that treats 404 as done; resolves true when it was already gone. */
  private async deleteIgnoringMissing(path: string, log: ProviderLog, signal: AbortSignal): Promise<boolean> {
    try {
      await this.client.delete(path, { signal, log });
      return false;
    } catch (err) {
      if (err instanceof OvhApiError && err.notFound) return true;
      throw err;
    }
  }

  private toVm(vmId: string, instance: OvhInstance, notEnforced?: string[]): ProviderVm {
    const state = engineState(instance.status);
    const host = state === 'running' ? publicIpv4(instance) : null;
    return {
      vmId,
      providerId: instance.id,
      state,
      host,
      sshPort: host ? SSH_PORT : null,
      ...(notEnforced?.length ? { notEnforced } : {}),
      ...(state === 'running' ? {} : { detail: `OVH status ${instance.status}` }),
    };
  }
}

function instanceFailed(instance: OvhInstance, what: string): AppError {
  return new AppError(502, 'ovh_instance_failed', `OVH instance ${instance.name} (${instance.id}) ${what}; destroy the VM and create it again`, {
    instanceId: instance.id,
    status: instance.status,
  });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
