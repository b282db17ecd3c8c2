import type { Db } from '../platform/db.ts';
import { withTransaction } from '../platform/db.ts';
import type { StreamName } from '../../src/lib/shared/jobs.ts';

export interface StoredEvent {
  seq: number;
  stream: StreamName;
  chunk: Buffer;
  at: Date;
}

/** SQL for job_events. Output is bytea: process output may hold NUL and invalid UTF-8. */
export class EventRepository {
  constructor(private readonly db: Db) {}

  /**
   * Writes a batch with one statement (unnest of arrays; node-postgres has no pipelining,
   * so one statement per batch is what makes ingest fast) and moves the job's cursor in the
   * same transaction, so last_seq never points past what is stored.
   */
  async insertBatch(jobId: string, events: StoredEvent[]): Promise<void> {
    if (!events.length) return;
    const bytes = events.reduce((n, e) => n + e.chunk.length, 0);
    await withTransaction(this.db, async (c) => {
      await c.query(
        `INSERT INTO job_events (job_id, seq, stream, chunk, created_at)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bytea[], $5::timestamptz[])`,
        [jobId, events.map((e) => e.seq), events.map((e) => e.stream), events.map((e) => e.chunk), events.map((e) => e.at)],
      );
      await c.query('UPDATE jobs SET last_seq = $2, bytes = bytes + $3 WHERE id = $1', [
        jobId, events[events.length - 1].seq, bytes,
      ]);
    });
  }

  /** Events after `after` in seq order, at most `limit` rows and roughly `maxBytes` bytes (always at least one row). */
  async list(jobId: string, after: number, limit: number, maxBytes = 4 * 1024 * 1024): Promise<StoredEvent[]> {
    const { rows } = await this.db.query<{ seq: number; stream: StreamName; chunk: Buffer; at: Date; running: number }>(
      `SELECT seq, stream, chunk, created_at AS at,
              sum(octet_length(chunk)) OVER (ORDER BY seq) AS running
       FROM (SELECT * FROM job_events WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) e
       ORDER BY seq`,
      [jobId, after, limit],
    );
    const out: StoredEvent[] = [];
    for (const r of rows) {
      if (out.length && Number(r.running) > maxBytes) break;
      out.push({ seq: r.seq, stream: r.stream, chunk: r.chunk, at: r.at });
    }
    return out;
  }
}
