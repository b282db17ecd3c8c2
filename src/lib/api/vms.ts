import type { Quote } from '$lib/shared/credits';
import type { Job } from '$lib/shared/jobs';
import type {
  CreateVmBody,
  InventoryVm,
  Vm,
  VmAction,
  VmCreateOptions,
  VmListItem,
  VmOperation,
  VmQueueListing,
  VmStats,
} from '$lib/shared/vms';
import { api } from './client';

type Fetch = typeof fetch;

/** An action the user asks for on an existing VM (`create` is asked once, by `POST /api/vms`). */
export type VmUserAction = Exclude<VmAction, 'create'>;

/**
 * What `POST /api/vms` and `POST /api/vms/:id/actions` answer: the VM as it is now and the job
 * logging the operation. `jobId` is null only for an admin's forced destroy, which removes the
 * record without asking the provider (nothing to log).
 */
export interface VmOperationStarted {
  vm: Vm;
  jobId: string | null;
}

/** Details of 403 `quota_exceeded` / `capacity_exceeded`: what was asked against what is left. */
export interface VmLimitDetails {
  limit?: string;
  requested?: number;
  used?: number;
  max?: number;
}

/**
 * `POST /api/admin/vms/reconcile`: what one pass of the reconciler found and did, as VM ids (or
 * provider names for `providersSkipped`). Not in src/lib/shared yet: read defensively.
 */
export interface VmReconcileReport {
  vanished?: string[];
  corrected?: string[];
  resolved?: string[];
  orphansDestroyed?: string[];
  providersSkipped?: string[];
}

/** What a quote is asked for: the size alone (the price does not depend on image or provider). */
export type VmSize = Pick<CreateVmBody, 'vcpus' | 'memoryMb' | 'diskGb'>;

const vmPath = (id: string) => `/vms/${encodeURIComponent(id)}`;

/** A provisioned VM, as opposed to a host of an environment listed beside it. */
export const isProvisioned = (item: VmListItem): item is Vm => item.source === 'provisioned';
export const isInventory = (item: VmListItem): item is InventoryVm => item.source === 'environment';

/** Typed calls for provisioned VMs, their operations and the admin queue. */
export const vmsApi = {
  /** Provisioned VMs the caller may see (admins: all), then inventory hosts; `all` adds destroyed VMs. */
  list: (all = false, f?: Fetch) => api.get<VmListItem[]>(all ? '/vms?all=1' : '/vms', f),
  /** What the create dialog needs before the click: providers, limits, images, local capacity. */
  createOptions: (f?: Fetch) => api.get<VmCreateOptions>('/vms/providers', f),
  /**
   * With an `idempotencyKey` the server answers a repeat of the same request (a double click, a
   * retry after a lost answer) with its first answer instead of creating and charging again.
   */
  create: (body: CreateVmBody, idempotencyKey?: string) =>
    api.post<{ vm: Vm; jobId: string }>('/vms', body, undefined, idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : undefined),
  /** The price of a size and every reason a create of it would be refused now (credits, quotas). */
  quote: (size: VmSize) => api.post<Quote>('/vms/quote', size),

  get: (id: string, f?: Fetch) => api.get<Vm>(vmPath(id), f),
  updateMetadata: (id: string, metadata: Record<string, unknown>) => api.patch<Vm>(vmPath(id), { metadata }),
  /** The VM's action history, newest first; each operation's log is the job `jobId`. */
  operations: (id: string, f?: Fetch) => api.get<VmOperation[]>(`${vmPath(id)}/operations`, f),
  /** `force` (admins, destroy only) removes the record even when the provider cannot. */
  action: (id: string, action: VmUserAction, force = false) =>
    api.post<VmOperationStarted>(`${vmPath(id)}/actions`, force ? { action, force: true } : { action }),
  /** One command in the VM as a job, streamed like any other. */
  exec: (id: string, command: string) => api.post<Job>(`${vmPath(id)}/exec`, { command }),
  /** A shell in the VM, shown on the terminal page like an inventory host's shell. */
  openShell: (vmId: string, size?: { cols: number; rows: number }) => api.post<Job>('/jobs', { type: 'terminal', vm: vmId, ...size }),
  /** The private key as a file download; a plain link, so the browser saves it (owner or admin). */
  sshKeyHref: (id: string) => `/api${vmPath(id)}/ssh-key`,

  stats: (f?: Fetch) => api.get<VmStats>('/vms/stats', f),
  queue: (f?: Fetch) => api.get<VmQueueListing>('/admin/queue', f),
  retry: (operationId: string) => api.post<{ operation: VmOperation }>(`/admin/queue/${encodeURIComponent(operationId)}/retry`),
  discard: (operationId: string) => api.post<{ operation: VmOperation }>(`/admin/queue/${encodeURIComponent(operationId)}/discard`),
  /** Compares the database with every provider now instead of at the next tick. */
  reconcile: () => api.post<VmReconcileReport>('/admin/vms/reconcile'),
};
