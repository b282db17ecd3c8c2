import type { VmAction, VmState } from '../../src/lib/shared/vms.ts';
import type { Db, Queryable } from '../platform/db.ts';

export interface VmRow {
  id: string;
  name: string;
  ownerId: string | null;
  provider: string;
  providerId: string | null;
  state: VmState;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  image: string | null;
  host: string | null;
  sshPort: number | null;
  sshUser: string | null;
  sshPublicKey: string | null;
  hostKeys: string[];
  statusDetail: string | null;
  metadata: Record<string, unknown>;
  runtimeSeconds: number;
  runningSince: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface VmOperationRow {
  id: string;
  vmId: string;
  action: VmAction;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'dead' | 'discarded';
  jobId: string | null;
  requestedBy: string | null;
  error: string | null;
  attempts: number;
  createdAt: string;
}

export interface NewVm {
  name: string;
  ownerId: string;
  provider: string;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  image: string | null;
  sshUser: string;
}

/** Fields a transition may set along with the state. */
export interface VmPatch {
  providerId?: string | null;
  host?: string | null;
  sshPort?: number | null;
  hostKeys?: string[];
  statusDetail?: string | null;
}

const VM_COLS = `id, name, owner_id AS "ownerId", provider, provider_id AS "providerId", state, vcpus,
  memory_mb AS "memoryMb", disk_gb AS "diskGb", image, host, ssh_port AS "sshPort", ssh_user AS "sshUser",
  ssh_public_key AS "sshPublicKey", host_keys AS "hostKeys", status_detail AS "statusDetail", metadata,
  runtime_seconds AS "runtimeSeconds", running_since AS "runningSince", created_at AS "createdAt", updated_at AS "updatedAt"`;
const OP_COLS = `id, vm_id AS "vmId", action, status, job_id AS "jobId", requested_by AS "requestedBy", error, attempts,
  created_at AS "createdAt"`;

/**
 * SQL for VMs and their operations. Every state change is a compare-and-set:
 * `UPDATE … WHERE id = $1 AND state = ANY($from)` returns the row, or null when the VM was
 * not in one of those states (someone else moved it) — the caller treats null as a
 * conflict, never as success. Runtime is accounted in the same statement that leaves or
 * enters `running`, so it cannot drift from the state.
 */
export class VmRepository {
  constructor(private readonly db: Db) {}

  async insert(v: NewVm, q: Queryable = this.db): Promise<VmRow> {
    const { rows } = await q.query(
      `INSERT INTO vms (name, owner_id, provider, state, vcpus, memory_mb, disk_gb, image, ssh_user)
       VALUES ($1, $2, $3, 'requested', $4, $5, $6, $7, $8) RETURNING ${VM_COLS}`,
      [v.name, v.ownerId, v.provider, v.vcpus, v.memoryMb, v.diskGb, v.image, v.sshUser],
    );
    return rows[0];
  }

  async get(id: string, q: Queryable = this.db): Promise<VmRow | null> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
    const { rows } = await q.query(`SELECT ${VM_COLS} FROM vms WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  /** Locks the VM's row for the rest of the transaction (requests for one VM are judged one at a time). */
  async lock(id: string, q: Queryable): Promise<VmRow | null> {
    const { rows } = await q.query(`SELECT ${VM_COLS} FROM vms WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0] ?? null;
  }

  /** Moves the VM from one of `from` to `to`, setting `patch`; null when it was in none of them. */
  async transition(id: string, from: readonly VmState[], to: VmState, patch: VmPatch = {}, q: Queryable = this.db): Promise<VmRow | null> {
    const sets = ['state = $3', 'updated_at = now()'];
    const values: unknown[] = [id, from, to];
    const set = (col: string, v: unknown) => {
      values.push(v);
      sets.push(`${col} = $${values.length}`);
    };
    if ('providerId' in patch) set('provider_id', patch.providerId);
    if ('host' in patch) set('host', patch.host);
    if ('sshPort' in patch) set('ssh_port', patch.sshPort);
    if ('hostKeys' in patch) set('host_keys', patch.hostKeys);
    if ('statusDetail' in patch) set('status_detail', patch.statusDetail);
    // Runtime: a VM entering `running` starts the clock; one leaving it adds the time run.
    sets.push(`running_since = CASE WHEN $3 = 'running' THEN COALESCE(running_since, now()) ELSE NULL END`);
    sets.push(`runtime_seconds = runtime_seconds + CASE WHEN $3 <> 'running' AND running_since IS NOT NULL
      THEN GREATEST(0, EXTRACT(EPOCH FROM now() - running_since))::bigint ELSE 0 END`);
    sets.push(`destroyed_at = CASE WHEN $3 = 'destroyed' THEN now() ELSE destroyed_at END`);
    const { rows } = await q.query(
      `UPDATE vms SET ${sets.join(', ')} WHERE id = $1 AND state = ANY($2::text[]) RETURNING ${VM_COLS}`,
      values,
    );
    return rows[0] ?? null;
  }

  async insertOperation(vmId: string, action: VmAction, requestedBy: string | null, jobId: string | null, q: Queryable): Promise<VmOperationRow> {
    const { rows } = await q.query(
      `INSERT INTO vm_operations (vm_id, action, status, requested_by, job_id) VALUES ($1, $2, 'queued', $3, $4) RETURNING ${OP_COLS}`,
      [vmId, action, requestedBy, jobId],
    );
    return rows[0];
  }

  /** Operations not yet finished (running first, then queued, in the order asked). */
  async openOperations(vmId: string, q: Queryable = this.db): Promise<VmOperationRow[]> {
    const { rows } = await q.query(
      `SELECT ${OP_COLS} FROM vm_operations WHERE vm_id = $1 AND status IN ('queued', 'running', 'dead')
       ORDER BY created_at, id`,
      [vmId],
    );
    return rows;
  }

  async getOperation(id: string, q: Queryable = this.db): Promise<VmOperationRow | null> {
    const { rows } = await q.query(`SELECT ${OP_COLS} FROM vm_operations WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  /** queued → running (counting the attempt); null when it is not queued or running (already done). */
  async startOperation(id: string, q: Queryable = this.db): Promise<VmOperationRow | null> {
    const { rows } = await q.query(
      `UPDATE vm_operations SET status = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, now())
       WHERE id = $1 AND status IN ('queued', 'running') RETURNING ${OP_COLS}`,
      [id],
    );
    return rows[0] ?? null;
  }

  /** Ends an operation once: a second finish of the same operation changes nothing (redelivery). */
  async finishOperation(id: string, status: 'succeeded' | 'failed' | 'dead' | 'discarded', error: string | null, q: Queryable = this.db): Promise<VmOperationRow | null> {
    const { rows } = await q.query(
      `UPDATE vm_operations SET status = $2, error = $3, finished_at = now()
       WHERE id = $1 AND status IN ('queued', 'running', 'dead') RETURNING ${OP_COLS}`,
      [id, status, error],
    );
    return rows[0] ?? null;
  }
}
