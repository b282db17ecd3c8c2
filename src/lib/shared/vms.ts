/** VM states and actions, shared by the server's state machine and the UI. */

/** A VM's state as stored (API.md). */
export const VM_STATES = [
  'requested', 'provisioning', 'starting', 'running', 'stopping', 'stopped', 'destroying', 'destroyed', 'error',
] as const;
export type VmState = (typeof VM_STATES)[number];

/** What a user can ask of a VM; `create` is asked once, at admission. */
export const VM_ACTIONS = ['create', 'start', 'stop', 'restart', 'destroy'] as const;
export type VmAction = (typeof VM_ACTIONS)[number];

/** How a VM is shown: its state, plus what is about to happen to it. */
export interface VmStatus {
  state: VmState;
  /** The action being carried out now, if any. */
  inFlight: VmAction | null;
  /** Actions waiting behind it, in order. */
  queued: VmAction[];
  /** One line for badges: "running", "stopping", "running · stop queued". */
  label: string;
  tone: 'ok' | 'busy' | 'off' | 'bad';
}

/** A VM the console provisioned, as `GET /api/vms/:id` returns it. */
export interface Vm {
  id: string;
  name: string;
  source: 'provisioned';
  provider: string;
  ownerId: string | null;
  ownerName: string | null;
  state: VmState;
  /** State plus what is being done and queued, for the badge. */
  status: VmStatus;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  image: string | null;
  /** Where to SSH: address, port (changes on every start for Docker VMs), login. Null while not running. */
  host: string | null;
  sshPort: number | null;
  user: string | null;
  /** `ssh -i <key> -p PORT user@host`, ready to copy; null until the VM runs. */
  sshCommand: string | null;
  /** SHA256 fingerprints (as `ssh-keygen -lf` prints them) of the host keys the console pinned. */
  hostKeyFingerprints: string[];
  /** Why it is in `error`, or what the provider could not enforce. */
  statusDetail: string | null;
  /** Limits the provider cannot enforce, said plainly (e.g. disk size on overlay2 over ext4). */
  notEnforced: string[];
  /** Destroyed after its first exec job finishes. */
  ephemeral: boolean;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  totalRuntimeMinutes: number;
  runningSince: string | null;
  lastActivityAt: string | null;
  /** When it is destroyed for reaching its maximum lifetime; null = never. */
  expiresAt: string | null;
  /** When it stops for inactivity if nobody uses it; null = no auto-stop (or not running). */
  autoStopAt: string | null;
  /** Stopped OVH instances are still billed: the UI says so. */
  billedWhenStopped: boolean;
}

/** A host from `environments/<env>/config.yml`, listed beside provisioned VMs by `GET /api/vms`. */
export interface InventoryVm {
  id: string;
  name: string;
  source: 'environment';
  environment: string;
  host: string;
  user: string | null;
  port: number | null;
}

export type VmListItem = Vm | InventoryVm;

export type VmOperationStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'dead' | 'discarded';

/** One action asked of a VM, with the job that logs it (the VM's action history, the queue page). */
export interface VmOperation {
  id: string;
  vmId: string;
  vmName: string;
  vmState: VmState;
  ownerName: string | null;
  action: VmAction;
  status: VmOperationStatus;
  jobId: string | null;
  requestedBy: string | null;
  requestedByName: string | null;
  error: string | null;
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** `GET /api/admin/queue`: every open operation, grouped as the operations page shows them. */
export interface VmQueueListing {
  queued: VmOperation[];
  active: VmOperation[];
  failed: VmOperation[];
  dead: VmOperation[];
}

/** A place VMs run, as the create dialog shows it (`GET /api/vms/providers`). */
export interface VmProviderInfo {
  name: string;
  ok: boolean;
  /** Why it cannot be used now (not configured, not reachable). */
  reason: string | null;
  default: boolean;
  billedWhenStopped: boolean;
  /** Limits it cannot enforce (shown before the click, not after). */
  notEnforced: string[];
}

/** Capacity of the local Docker host: limits and what live VMs use. */
export interface VmCapacity {
  maxVms: number;
  vcpus: number;
  memoryMb: number;
  used: { vms: number; vcpus: number; memoryMb: number };
}

/** `GET /api/vms/providers`: what a create dialog needs before the click. */
export interface VmCreateOptions {
  providers: VmProviderInfo[];
  capacity: VmCapacity;
  /** Sizes a user may pick (the ledger's quotas narrow them later). */
  limits: { vcpus: [number, number]; memoryMb: [number, number]; diskGb: [number, number] };
  images: string[];
}

/** `GET /api/vms/stats` (admin). */
export interface VmStats {
  byState: Partial<Record<VmState, number>>;
  byProvider: Record<string, number>;
  capacity: VmCapacity;
  operations: Record<VmOperationStatus, number>;
}

/** `POST /api/vms` body. */
export interface CreateVmBody {
  name: string;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  provider?: string;
  image?: string;
  /** Destroy the VM once its first exec job finishes. */
  ephemeral?: boolean;
}

/** Socket.io `/jobs` → `vm:updated` for owners and admins; list and VM pages update from it. */
export interface VmUpdated {
  vm: Vm;
}
