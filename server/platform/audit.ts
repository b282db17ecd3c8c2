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

/** Appends to the audit feed. A failed audit write is logged, never allowed to fail the action it records. */
export class AuditLog {
  constructor(private readonly db: Queryable, private readonly log: Logger) {}

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

  async list(opts: { userId?: string; before?: number; limit: number }) {
    const { rows } = await this.db.query(
      `SELECT id, type, action, severity, metadata, user_id AS "userId", created_at AS "createdAt"
       FROM audit_events WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::bigint IS NULL OR id < $2)
       ORDER BY id DESC LIMIT $3`,
      [opts.userId ?? null, opts.before ?? null, opts.limit],
    );
    return { events: rows, next: rows.length === opts.limit ? rows[rows.length - 1].id : null };
  }
}
