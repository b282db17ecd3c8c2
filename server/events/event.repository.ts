import type { Db } from '../platform/db.ts';
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
   * Stores events of any number of jobs with ONE statement (node-postgres has no
   * pipelining, and every transaction costs a WAL flush), and moves each job's cursor in
   * the same statement, so last_seq never points past what is stored. Each chunk is its
   * own parameter because node-postgres sends a Buffer parameter in binary; a bytea[]
   * array would travel as hex text. ON CONFLICT makes a retry after a lost COMMIT reply
   * harmless: rows already stored are skipped and counted once.
   */
  async insertMany(batches: Array<{ jobId: string; events: StoredEvent[] }>): Promise<void> {
    const params: unknown[] = [];
    const rows: string[] = [];
    for (const { jobId, events } of batches) {
      for (const e of events) {
        const i = params.push(jobId, e.seq, e.stream, e.chunk, e.at);
        rows.push(`($${i - 4}::uuid, $${i - 3}::bigint, $${i - 2}, $${i - 1}::bytea, $${i}::timestamptz)`);
      }
    }
    if (!rows.length) return;
    await this.db.query(
      `WITH ins AS (
         INSERT INTO job_events (job_id, seq, stream, chunk, created_at) VALUES ${rows.join(', ')}
         ON CONFLICT (job_id, seq) DO NOTHING
         RETURNING job_id, seq, octet_length(chunk) AS n),
       agg AS (SELECT job_id, max(seq) AS seq, sum(n) AS n FROM ins GROUP BY job_id)
       UPDATE jobs j SET last_seq = GREATEST(j.last_seq, agg.seq), bytes = j.bytes + agg.n
       FROM agg WHERE j.id = agg.job_id`,
      params,
    );
  }

  /**
   * Events after `after` in seq order: at most `limit` rows and about `maxBytes` bytes
   * (always at least one row). The byte limit is applied in SQL so that rows past it are
   * never read out of TOAST or sent over the wire.
   */
  async list(jobId: string, after: number, limit: number, maxBytes = 4 * 1024 * 1024): Promise<StoredEvent[]> {
    const { rows } = await this.db.query<StoredEvent>(
      `SELECT seq, stream, chunk, created_at AS at FROM (
         SELECT seq, stream, chunk, created_at,
                sum(octet_length(chunk)) OVER (ORDER BY seq) - octet_length(chunk) AS bytes_before
         FROM job_events WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) e
       WHERE bytes_before < $4 OR seq = (SELECT min(seq) FROM job_events WHERE job_id = $1 AND seq > $2)
       ORDER BY seq`,
      [jobId, after, limit, maxBytes],
    );
    return rows;
  }
}
