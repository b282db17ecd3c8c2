/**
 * What the VM engine needs of a place that runs VMs (Docker here, OVH Public Cloud in
 * production). Queues deliver at least once and a handler may be retried while an earlier
 * run is still going, so every call is idempotent and keyed by the console's VM id: a
 * repeated `create` finds the machine it made before instead of making a second, a
 * `destroy` of something already gone succeeds.
 */

/** What to create: sizes from the VM row, a public key to authorize, and the console's id to tag it with. */
export interface VmSpec {
  vmId: string;
  name: string;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  /** Provider-specific image name; the provider's default when absent. */
  image?: string;
  /** One OpenSSH public key line the console logs in with (`ssh-ed25519 AAAA…`). */
  sshPublicKey: string;
  /** Login created for that key. */
  sshUser: string;
}

/** Which machine: the console's id, and the provider's own id once known. */
export interface ProviderRef {
  vmId: string;
  providerId: string | null;
}

export type ProviderVmState = 'creating' | 'running' | 'stopped' | 'missing' | 'error';

/** A machine as the provider reports it. */
export interface ProviderVm extends ProviderRef {
  state: ProviderVmState;
  /** Address and port to SSH to; null until known (re-read after every start: ports can change). */
  host: string | null;
  sshPort: number | null;
  /** The machine's SSH host keys as OpenSSH public key lines, when the provider can read them out of band (pinned without trust on first use). */
  hostKeys?: string[];
  /** Limits the provider could not enforce, said plainly (e.g. "disk size not enforced: overlay2 on ext4"). */
  notEnforced?: string[];
  /** Why `error`/`missing`, for people. */
  detail?: string;
}

/** A line for the VM operation's job log (progress, retries). Never secrets. */
export type ProviderLog = (line: string) => void;

export interface ProviderStatus {
  ok: boolean;
  /** Why it cannot be used (not configured, not reachable), for the VMs page and the create dialog. */
  reason?: string;
}

export interface VmProvider {
  readonly name: string;
  /** Configured and answering? Cheap enough to call when a page opens. */
  status(): Promise<ProviderStatus>;
  /** Creates (or finds, when it exists already) the machine for `spec.vmId` and waits until it runs with SSH reachable. */
  create(spec: VmSpec, log: ProviderLog, signal: AbortSignal): Promise<ProviderVm>;
  start(ref: ProviderRef, log: ProviderLog, signal: AbortSignal): Promise<ProviderVm>;
  stop(ref: ProviderRef, log: ProviderLog, signal: AbortSignal): Promise<ProviderVm>;
  /** Removes the machine and everything made for it; succeeds when it is already gone. */
  destroy(ref: ProviderRef, log: ProviderLog, signal: AbortSignal): Promise<void>;
  /** The machine as it is now (`missing` when it does not exist). */
  inspect(ref: ProviderRef): Promise<ProviderVm>;
  /** Every machine this console manages there (by label or name prefix), for the reconciler. */
  listManaged(): Promise<ProviderVm[]>;
}
