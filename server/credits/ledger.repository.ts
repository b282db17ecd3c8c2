import type pg from 'pg';
import type { Db, Queryable } from '../platform/db.ts';

export interface AccountRow {
  userId: string;
  posted: number;
  held: number;
  vms: number;
  running: number;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
}

export type EntryKind = 'grant' | 'adjustment' | 'hold' | 'post' | 'void' | 'runtime';

export interface EntryRow {
  id: number;
  kind: EntryKind;
  postedDelta: number;
  heldDelta: number;
  reason: string;
  actorId: string | null;
  vmId: string | null;
  jobId: string | null;
  holdId: string | null;
  createdAt: string;
}

export interface NewEntry {
  userId: string;
  kind: EntryKind;
  postedDelta?: number;
  heldDelta?: number;
  reason: string;
  actorId?: string | null;
  vmId?: string | null;
  jobId?: string | null;
  holdId?: string | null;
}

const ACCOUNT_COLS = `user_id AS "userId", posted, held, vms, running, vcpus, memory_mb AS "memoryMb", disk_gb AS "diskGb"`;
const ENTRY_COLS = `id, kind, posted_delta AS "postedDelta", held_delta AS "heldDelta", reason, actor_id AS "actorId",
  vm_id AS "vmId", job_id AS "jobId", hold_id AS "holdId", created_at AS "createdAt"`;

/**
 * SQL of the ledger. Every change goes through `apply`: one entry appended and the account's
 * cached totals moved by the same amounts in one statement pair on the caller's transaction,
 * the account row locked by the UPDATE. The CHECK constraint refuses any change that would
 * leave `posted - held` below zero, whatever the code above it does.
 */
export class LedgerRepository {
  constructor(private readonly db: Db) {}

  /** Makes the account if it does not exist; true when this call made it. */
  async ensureAccount(userId: string, q: Queryable = this.db): Promise<boolean> {
    const { rowCount } = await q.query(`INSERT INTO credit_accounts (user_id) VALUES ($1) ON CONFLICT DO NOTHING`, [userId]);
    return rowCount === 1;
  }

  async account(userId: string, q: Queryable = this.db): Promise<AccountRow | null> {
    const { rows } = await q.query(`SELECT ${ACCOUNT_COLS} FROM credit_accounts WHERE user_id = $1`, [userId]);
    return rows[0] ?? null;
  }

  /** Appends an entry and moves the cached totals with it; null when the guard refused (it would overdraw). */
  async apply(c: pg.PoolClient, e: NewEntry): Promise<EntryRow | null> {
    const posted = e.postedDelta ?? 0;
    const held = e.heldDelta ?? 0;
    const moved = await c.query(
      `UPDATE credit_accounts SET posted = posted + $2, held = held + $3, updated_at = now()
       WHERE user_id = $1 AND (posted + $2) - (held + $3) >= 0 RETURNING user_id`,
      [e.userId, posted, held],
    );
    if (moved.rowCount !== 1) return null;
    const { rows } = await c.query(
      `INSERT INTO credit_entries (user_id, kind, posted_delta, held_delta, reason, actor_id, vm_id, job_id, hold_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${ENTRY_COLS}`,
      [e.userId, e.kind, posted, held, e.reason, e.actorId ?? null, e.vmId ?? null, e.jobId ?? null, e.holdId ?? null],
    );
    return rows[0];
  }

  async entries(userId: string, before: number | null, limit: number): Promise<EntryRow[]> {
    const { rows } = await this.db.query(
      `SELECT ${ENTRY_COLS} FROM credit_entries WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
      [userId, before, limit],
    );
    return rows;
  }

  async insertHold(c: pg.PoolClient, userId: string, vmId: string, amount: number, ttlMinutes: number): Promise<string> {
    const { rows } = await c.query(
      `INSERT INTO credit_holds (user_id, vm_id, amount, expires_at) VALUES ($1, $2, $3, now() + make_interval(mins => $4)) RETURNING id`,
      [userId, vmId, amount, ttlMinutes],
    );
    return rows[0].id;
  }

  /** Resolves the VM's pending hold once (`… WHERE state = 'pending'`); null when none is pending. */
  async resolveHold(c: pg.PoolClient, where: { vmId?: string; holdId?: string }, to: 'posted' | 'voided') {
    const { rows } = await c.query(
      `UPDATE credit_holds SET state = $3, resolved_at = now()
       WHERE state = 'pending' AND (($1::uuid IS NOT NULL AND vm_id = $1) OR ($2::uuid IS NOT NULL AND id = $2))
       RETURNING id, user_id AS "userId", vm_id AS "vmId", amount`,
      [where.vmId ?? null, where.holdId ?? null, to],
    );
    return rows as Array<{ id: string; userId: string; vmId: string | null; amount: number }>;
  }

  async expiredHolds(): Promise<Array<{ id: string; userId: string; vmId: string | null; amount: number }>> {
    const { rows } = await this.db.query(
      `SELECT id, user_id AS "userId", vm_id AS "vmId", amount FROM credit_holds WHERE state = 'pending' AND expires_at < now() LIMIT 500`,
    );
    return rows;
  }

  async overrides(userId: string, q: Queryable = this.db): Promise<Record<string, number | null>> {
    const { rows } = await q.query(`SELECT quota_overrides AS o FROM users WHERE id = $1`, [userId]);
    return rows[0]?.o ?? {};
  }
}
