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
  notEnforced: string[];
  metadata: Record<string, unknown>;
  runtimeSeconds: number;
  runningSince: string | null;
  lastActivityAt: string | null;
  expiresAt: string | null;
  autoStopMinutes: number | null;
  ephemeral: boolean;
  idleWarnedAt: string | null;
  expiryWarnedAt: string | null;
  hasKey: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface VmOperationRow {
  id: string;
  vmId: string;
  action: VmAction;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'dead' | 'discarded';
  jobId: string | null;
  queueJobId: string | null;
  requestedBy: string | null;
  error: string | null;
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
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
  autoStopMinutes?: number | null;
  /** Hours until it is destroyed for its age; null = never. */
  lifetimeHours?: number | null;
  ephemeral?: boolean;
  metadata?: Record<string, unknown>;
}

/** Fields a transition may set along with the state. */
export interface VmPatch {
  providerId?: string | null;
  host?: string | null;
  sshPort?: number | null;
  hostKeys?: string[];
  statusDetail?: string | null;
  notEnforced?: string[];
}

const VM_COLS = `id, name, owner_id AS "ownerId", provider, provider_id AS "providerId", state, vcpus,
  memory_mb AS "memoryMb", disk_gb AS "diskGb", image, host, ssh_port AS "sshPort", ssh_user AS "sshUser",
  ssh_public_key AS "sshPublicKey", host_keys AS "hostKeys", status_detail AS "statusDetail", not_enforced AS "notEnforced",
  metadata, runtime_seconds AS "runtimeSeconds", running_since AS "runningSince", last_activity_at AS "lastActivityAt",
  expires_at AS "expiresAt", auto_stop_minutes AS "autoStopMinutes", ephemeral, idle_warned_at AS "idleWarnedAt",
  expiry_warned_at AS "expiryWarnedAt", ssh_private_key_enc IS NOT NULL AS "hasKey", created_at AS "createdAt", updated_at AS "updatedAt"`;
const OP_COLS = `id, vm_id AS "vmId", action, status, job_id AS "jobId", queue_job_id AS "queueJobId", requested_by AS "requestedBy",
  error, attempts, created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt"`;

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
      `INSERT INTO vms (name, owner_id, provider, state, vcpus, memory_mb, disk_gb, image, ssh_user, auto_stop_minutes,
         expires_at, ephemeral, metadata)
       VALUES ($1, $2, $3, 'requested', $4, $5, $6, $7, $8, $9,
         CASE WHEN $10::numeric IS NULL THEN NULL ELSE now() + make_interval(secs => $10::numeric * 3600) END, $11, $12)
       RETURNING ${VM_COLS}`,
      [v.name, v.ownerId, v.provider, v.vcpus, v.memoryMb, v.diskGb, v.image, v.sshUser, v.autoStopMinutes ?? null,
        v.lifetimeHours ?? null, v.ephemeral ?? false, JSON.stringify(v.metadata ?? {})],
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
    if ('notEnforced' in patch) set('not_enforced', patch.notEnforced);
    // Starting counts as use: the idle clock restarts and a new warning may be sent.
    if (to === 'running') sets.push('last_activity_at = now()', 'idle_warned_at = NULL');
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

  /** Stores the VM's login key pair (the private half sealed); only when it has none, so a retried create keeps the first. */
  async setKeyPair(id: string, publicKey: string, sealedPrivateKey: Buffer): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE vms SET ssh_public_key = $2, ssh_private_key_enc = $3 WHERE id = $1 AND ssh_private_key_enc IS NULL`,
      [id, publicKey, sealedPrivateKey],
    );
    return rowCount === 1;
  }

  async sealedKey(id: string): Promise<Buffer | null> {
    const { rows } = await this.db.query(`SELECT ssh_private_key_enc AS k FROM vms WHERE id = $1`, [id]);
    return rows[0]?.k ?? null;
  }

  /** SSH, exec or terminal use: restarts the idle clock (at most once a minute per VM, to keep writes cheap). */
  async touch(id: string): Promise<void> {
    await this.db.query(
      `UPDATE vms SET last_activity_at = now(), idle_warned_at = NULL
       WHERE id = $1 AND (last_activity_at IS NULL OR last_activity_at < now() - interval '1 minute')`,
      [id],
    );
  }

  async setMetadata(id: string, patch: Record<string, unknown>): Promise<VmRow | null> {
    const { rows } = await this.db.query(
      `UPDATE vms SET metadata = metadata || $2::jsonb, updated_at = now() WHERE id = $1 RETURNING ${VM_COLS}`,
      [id, JSON.stringify(patch)],
    );
    return rows[0] ?? null;
  }

  async markWarned(id: string, which: 'idle' | 'expiry'): Promise<void> {
    await this.db.query(`UPDATE vms SET ${which === 'idle' ? 'idle_warned_at' : 'expiry_warned_at'} = now() WHERE id = $1`, [id]);
  }

  /** VMs not destroyed: `ownerId` narrows to one owner; `withDestroyed` includes the destroyed ones too. */
  async list(f: { ownerId?: string; withDestroyed?: boolean } = {}): Promise<Array<VmRow & { ownerName: string | null }>> {
    const { rows } = await this.db.query(
      `SELECT ${VM_COLS}, (SELECT username FROM users u WHERE u.id = vms.owner_id) AS "ownerName"
       FROM vms WHERE ($1::uuid IS NULL OR owner_id = $1) AND ($2 OR state <> 'destroyed')
       ORDER BY created_at DESC LIMIT 1000`,
      [f.ownerId ?? null, f.withDestroyed ?? false],
    );
    return rows;
  }

  /** Every VM that still exists, for the reconciler and the lifecycle sweeper. */
  async live(): Promise<VmRow[]> {
    const { rows } = await this.db.query(`SELECT ${VM_COLS} FROM vms WHERE state <> 'destroyed'`);
    return rows;
  }

  async ownerName(id: string | null): Promise<string | null> {
    if (!id) return null;
    const { rows } = await this.db.query(`SELECT username FROM users WHERE id = $1`, [id]);
    return rows[0]?.username ?? null;
  }

  async setQueueJob(operationId: string, queueJobId: string | null, q: Queryable = this.db): Promise<void> {
    await q.query(`UPDATE vm_operations SET queue_job_id = $2 WHERE id = $1`, [operationId, queueJobId]);
  }

  /** A VM's operations, newest first (its action history). */
  async operationsOf(vmId: string, limit = 100): Promise<VmOperationRow[]> {
    const { rows } = await this.db.query(
      `SELECT ${OP_COLS} FROM vm_operations WHERE vm_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
      [vmId, limit],
    );
    return rows;
  }

  /** Operations by status, oldest first, for the queue page. */
  async operationsByStatus(statuses: VmOperationRow['status'][], limit = 500): Promise<VmOperationRow[]> {
    const { rows } = await this.db.query(
      `SELECT ${OP_COLS} FROM vm_operations WHERE status = ANY($1::text[]) ORDER BY created_at, id LIMIT $2`,
      [statuses, limit],
    );
    return rows;
  }

  /** Puts a dead operation back in the queue (an administrator retries it). */
  async requeueOperation(id: string): Promise<VmOperationRow | null> {
    const { rows } = await this.db.query(
      `UPDATE vm_operations SET status = 'queued', error = NULL, finished_at = NULL WHERE id = $1 AND status IN ('dead', 'failed')
       RETURNING ${OP_COLS}`,
      [id],
    );
    return rows[0] ?? null;
  }

  /** Removes a VM's record for good (forced destroy): its state says destroyed, everything open is discarded. */
  async forceDestroyed(id: string, detail: string, q: Queryable = this.db): Promise<VmRow | null> {
    await q.query(
      `UPDATE vm_operations SET status = 'discarded', error = $2, finished_at = now()
       WHERE vm_id = $1 AND status IN ('queued', 'running', 'dead')`,
      [id, detail],
    );
    const { rows } = await q.query(
      `UPDATE vms SET state = 'destroyed', status_detail = $2, destroyed_at = now(), updated_at = now(), host = NULL, ssh_port = NULL,
         runtime_seconds = runtime_seconds + CASE WHEN running_since IS NOT NULL
           THEN GREATEST(0, EXTRACT(EPOCH FROM now() - running_since))::bigint ELSE 0 END,
         running_since = NULL
       WHERE id = $1 AND state <> 'destroyed' RETURNING ${VM_COLS}`,
      [id, detail],
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
