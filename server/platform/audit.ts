import type { Queryable } from './db.ts';
import type { Logger } from './logger.ts';

export type AuditType = 'vm' | 'system' | 'admin' | 'auth' | 'job';
export type AuditSeverity = 'info' | 'warning' | 'critical';

export interface AuditEntry {
  type: AuditType;
  action: string;
  severity?: AuditSeverity;
  metadata?: Record<string, unknown>;
  userId?: string | null;
}

export interface AuditFilter {
  userId?: string;
  before?: number;
  type?: string;
  severity?: string;
  /** Actions starting with this (`vm.` for every VM action). */
  action?: string;
  since?: string;
  until?: string;
}

/** Appends to the audit feed. A failed audit write is logged, never allowed to fail the action it records. */
export class AuditLog {
  constructor(private readonly db: Queryable, private readonly log: Logger) {}

  /** Records inside the caller's transaction: the event exists exactly when what it records committed. */
  async recordIn(q: Queryable, e: AuditEntry): Promise<void> {
    await q.query(
      'INSERT INTO audit_events (type, action, severity, metadata, user_id) VALUES ($1, $2, $3, $4, $5)',
      [e.type, e.action, e.severity ?? 'info', JSON.stringify(e.metadata ?? {}), e.userId ?? null],
    );
  }

  async record(e: AuditEntry): Promise<void> {
    try {
      await this.db.query(
        'INSERT INTO audit_events (type, action, severity, metadata, user_id) VALUES ($1, $2, $3, $4, $5)',
        [e.type, e.action, e.severity ?? 'info', JSON.stringify(e.metadata ?? {}), e.userId ?? null],
      );
    } catch (err) {
      this.log.error({ err, action: e.action }, 'audit write failed');
    }
  }

  /** Newest first, with optional filters (type, severity, action prefix, user, time window). */
  async list(opts: AuditFilter & { limit: number }) {
    const { rows } = await this.db.query(
      `SELECT e.id, e.type, e.action, e.severity, e.metadata, e.user_id AS "userId", u.username, e.created_at AS "createdAt"
       FROM audit_events e LEFT JOIN users u ON u.id = e.user_id
       WHERE ($1::uuid IS NULL OR e.user_id = $1) AND ($2::bigint IS NULL OR e.id < $2)
         AND ($4::text IS NULL OR e.type = $4) AND ($5::text IS NULL OR e.severity = $5)
         AND ($6::text IS NULL OR e.action LIKE $6 || '%') AND ($7::timestamptz IS NULL OR e.created_at >= $7)
         AND ($8::timestamptz IS NULL OR e.created_at < $8)
       ORDER BY e.id DESC LIMIT $3`,
      [opts.userId ?? null, opts.before ?? null, opts.limit, opts.type ?? null, opts.severity ?? null,
        opts.action ? opts.action.replace(/[\\%_]/g, (c) => `\\${c}`) : null, opts.since ?? null, opts.until ?? null],
    );
    return { events: rows, next: rows.length === opts.limit ? rows[rows.length - 1].id : null };
  }
}
