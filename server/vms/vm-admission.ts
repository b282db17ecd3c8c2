import type pg from 'pg';
import type { User } from '../../src/lib/shared/auth.ts';
import type { VmCapacity } from '../../src/lib/shared/vms.ts';
import { ADVISORY_LOCKS } from '../platform/advisory-locks.ts';
import type { Queryable } from '../platform/db.ts';
import { AppError } from '../platform/errors.ts';

/** What a create asks for, as admission judges it. */
export interface AdmissionRequest {
  user: User;
  provider: string;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
}

/**
 * The one step every create passes, inside the transaction that inserts the VM and queues
 * its create: a refusal rolls everything back. Credits and per-user quotas plug in here
 * (the ledger); this server's own limit is the capacity of the local Docker host.
 */
export interface VmAdmission {
  /** Work before the admission transaction (an account made on first use). */
  prepare?(req: AdmissionRequest): Promise<void>;
  admit(c: pg.PoolClient, req: AdmissionRequest): Promise<void>;
  /** A start of a stopped VM, judged in the request's transaction (quotas on running VMs). */
  allowStart?(c: pg.PoolClient, vm: { ownerId: string | null; vcpus: number; memoryMb: number }): Promise<void>;
  /** The admitted VM's row and its create exist now (same transaction): record what refers to them. */
  placed?(c: pg.PoolClient, vmId: string, jobId: string): Promise<void>;
}

export interface CapacityLimits {
  maxVms: number;
  vcpus: number;
  memoryMb: number;
}

/**
 * States that hold the local host's resources. Every VM that exists counts toward the VM
 * count (a stopped container still holds its disk); only those that can be running count
 * toward vCPUs and memory — a stopped or failed container uses neither.
 */
const COUNTS_FOR_CPU_AND_MEMORY = ['requested', 'provisioning', 'starting', 'running', 'stopping', 'destroying'];

/**
 * Capacity of the machine Docker VMs run on (max VMs, vCPUs, memory). Admissions take a
 * transaction-scoped advisory lock before reading what is used, so two creates racing for
 * the last slot are judged one after the other and only one gets it.
 */
export class DockerCapacity implements VmAdmission {
  constructor(
    private readonly limits: CapacityLimits,
    private readonly provider = 'docker',
  ) {}

  async usage(q: Queryable): Promise<VmCapacity> {
    const { rows } = await q.query(
      `SELECT count(*)::int AS vms,
              coalesce(sum(vcpus) FILTER (WHERE state = ANY($2::text[])), 0)::int AS vcpus,
              coalesce(sum(memory_mb) FILTER (WHERE state = ANY($2::text[])), 0)::int AS "memoryMb"
       FROM vms WHERE provider = $1 AND state <> 'destroyed'`,
      [this.provider, COUNTS_FOR_CPU_AND_MEMORY],
    );
    return { maxVms: this.limits.maxVms, vcpus: this.limits.vcpus, memoryMb: this.limits.memoryMb, used: rows[0] };
  }

  async admit(c: pg.PoolClient, req: AdmissionRequest): Promise<void> {
    if (req.provider !== this.provider) return;
    await c.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.vmCapacity]);
    const cap = await this.usage(c);
    const over = [
      { limit: 'vms', requested: 1, used: cap.used.vms, max: cap.maxVms, what: 'VMs' },
      { limit: 'vcpus', requested: req.vcpus, used: cap.used.vcpus, max: cap.vcpus, what: 'vCPUs' },
      { limit: 'memoryMb', requested: req.memoryMb, used: cap.used.memoryMb, max: cap.memoryMb, what: 'MB of memory' },
    ].find((x) => x.used + x.requested > x.max);
    if (!over) return;
    throw new AppError(
      403,
      'capacity_exceeded',
      `The local Docker host is full: ${over.used} of ${over.max} ${over.what} in use, this VM needs ${over.requested}. Destroy a VM or ask an administrator to raise VM_CAPACITY_${over.limit === 'vms' ? 'VMS' : over.limit === 'vcpus' ? 'VCPUS' : 'MEMORY_MB'}.`,
      { limit: over.limit, requested: over.requested, used: over.used, max: over.max },
    );
  }
}

/** Admission steps run in order; the first refusal wins. */
export class AdmissionChain implements VmAdmission {
  constructor(private readonly steps: VmAdmission[]) {}

  add(step: VmAdmission): void {
    this.steps.push(step);
  }

  async admit(c: pg.PoolClient, req: AdmissionRequest): Promise<void> {
    for (const step of this.steps) await step.admit(c, req);
  }

  async prepare(req: AdmissionRequest): Promise<void> {
    for (const step of this.steps) await step.prepare?.(req);
  }

  async allowStart(c: pg.PoolClient, vm: { ownerId: string | null; vcpus: number; memoryMb: number }): Promise<void> {
    for (const step of this.steps) await step.allowStart?.(c, vm);
  }

  async placed(c: pg.PoolClient, vmId: string, jobId: string): Promise<void> {
    for (const step of this.steps) await step.placed?.(c, vmId, jobId);
  }
}
