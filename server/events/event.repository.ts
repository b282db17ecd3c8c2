import type { Db } from '../platform/db.ts';
import type { StreamName } from '../../src/lib/shared/jobs.ts';

export interface StoredEvent {
  seq: number;
  stream: StreamName;
  chunk: Buffer;
  at: Date;
}

/** A batch reached the database before an earlier batch of its job had been stored. */
export class OutOfOrderWrite extends Error {}

/** Per job: the first and last seq this transaction stored, and how many bytes. */
function storedRanges(rows: Array<{ job_id: string; seq: string; n: number }>) {
  const byJob = new Map<string, { first: number; last: number; n: number }>();
  for (const r of rows) {
    const seq = Number(r.seq);
    const c = byJob.get(r.job_id);
    if (!c) byJob.set(r.job_id, { first: seq, last: seq, n: r.n });
    else {
      c.first = Math.min(c.first, seq);
      c.last = Math.max(c.last, seq);
      c.n += r.n;
    }
  }
  const ids = [...byJob.keys()];
  return {
    ids,
    first: ids.map((id) => byJob.get(id)!.first),
    last: ids.map((id) => byJob.get(id)!.last),
    bytes: ids.map((id) => byJob.get(id)!.n),
  };
}

/** SQL for job_events. Output is bytea: process output may hold NUL and invalid UTF-8. */
export class EventRepository {
  constructor(private readonly db: Db) {}

  /**
   * Stores events of any number of jobs in one transaction and moves each job's cursor
   * (`last_seq`, `bytes`) in the same transaction, so last_seq never points past what is
   * stored. The rows go in with ONE statement (node-postgres has no pipelining); each chunk
   * is its own parameter because node-postgres sends a Buffer parameter in binary, where a
   * bytea[] array would travel as hex text. ON CONFLICT makes a retry after a lost COMMIT
   * reply harmless: rows already stored are skipped and counted once.
   *
   * Several of these may run at once (the writer keeps two in flight so that Postgres
   * stores one batch while the next is formed and sent). Their rows are written in
   * parallel; their cursor updates are not. `turn` resolves once the previous
   * transaction holds its cursor row locks, and only then does this one ask for its own,
   * so for a job in both it waits for the previous COMMIT: transactions that touch one
   * job commit in the order they were sent. Each job's cursor must then stand at the seq
   * just before this batch; if the previous transaction failed, this one is rolled back
   * (`OutOfOrderWrite`) rather than leave a gap that readers could see. `locked` is called
   * once this transaction holds its locks, or has failed.
   */
  async insertMany(
    batches: Array<{ jobId: string; events: StoredEvent[] }>,
    order: { turn?: Promise<void>; locked?: () => void } = {},
  ): Promise<void> {
    const params: unknown[] = [];
    const rows: string[] = [];
    for (const { jobId, events } of batches) {
      for (const e of events) {
        const i = params.push(jobId, e.seq, e.stream, e.chunk, e.at);
        rows.push(`($${i - 4}::uuid, $${i - 3}::bigint, $${i - 2}, $${i - 1}::bytea, $${i}::timestamptz)`);
      }
    }
    let lockedCalled = false;
    const locked = () => {
      if (!lockedCalled) order.locked?.();
      lockedCalled = true;
    };
    if (!rows.length) return locked();
    const client = await this.db.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const inserted = await client.query<{ job_id: string; seq: string; n: number }>(
        `INSERT INTO job_events (job_id, seq, stream, chunk, created_at) VALUES ${rows.join(', ')}
         ON CONFLICT (job_id, seq) DO NOTHING
         RETURNING job_id, seq, octet_length(chunk) AS n`,
        params,
      );
      const cursors = storedRanges(inserted.rows);
      await order.turn;
      if (cursors.ids.length) {
        // Lock the cursors first: this waits for an earlier transaction that holds them and
        // then reads what it committed (a WHERE on the cursor in the UPDATE itself would be
        // judged on the older row, without waiting).
        const { rows: current } = await client.query<{ id: string; last_seq: number }>(
          'SELECT id, last_seq FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE',
          [cursors.ids],
        );
        locked();
        const before = new Map(current.map((r) => [r.id, Number(r.last_seq)]));
        if (cursors.ids.some((id, i) => (before.get(id) ?? -1) < cursors.first[i] - 1)) {
          throw new OutOfOrderWrite('an earlier batch of the same job is not stored yet');
        }
        await client.query(
          `UPDATE jobs j SET last_seq = GREATEST(j.last_seq, c.last), bytes = j.bytes + c.n
           FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS c(id, last, n) WHERE j.id = c.id`,
          [cursors.ids, cursors.last, cursors.bytes],
        );
      }
      locked();
      await client.query('COMMIT');
    } catch (err) {
      locked();
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.release(broken);
    }
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
