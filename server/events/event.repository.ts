import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Db } from '../platform/db.ts';
import { copyRows } from './event-copy.ts';
import type { StreamName } from '../../src/lib/shared/jobs.ts';

export interface StoredEvent {
  seq: number;
  stream: StreamName;
  chunk: Buffer;
  at: Date;
}

/** A batch reached the database before an earlier batch of its job had been stored. */
export class OutOfOrderWrite extends Error {}

/** Per job: the first and last seq this transaction stores, and how many bytes. */
function storedRanges(batches: Array<{ jobId: string; events: StoredEvent[] }>) {
  const byJob = new Map<string, { first: number; last: number; n: number }>();
  for (const { jobId, events } of batches) {
    for (const e of events) {
      const c = byJob.get(jobId);
      if (!c) byJob.set(jobId, { first: e.seq, last: e.seq, n: e.chunk.length });
      else {
        c.first = Math.min(c.first, e.seq);
        c.last = Math.max(c.last, e.seq);
        c.n += e.chunk.length;
      }
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

const UNIQUE_VIOLATION = '23505';
/** Raised by job_events_out_of_order() (migration 0008). */
const OUT_OF_ORDER = 'VO001';

/** SQL for job_events. Output is bytea: process output may hold NUL and invalid UTF-8. */
export class EventRepository {
  constructor(private readonly db: Db) {}

  /**
   * Stores events of any number of jobs in one transaction and moves each job's cursor
   * (`last_seq`, `bytes`) in the same transaction, so last_seq never points past what is
   * stored. The rows go in with one binary COPY (see event-copy.ts).
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
   *
   * A retry after a lost COMMIT reply is harmless: COPY then hits rows already stored
   * (a unique violation), and the batches that are stored are left out and the rest
   * written again. A batch is always stored whole, so its first seq tells.
   */
  async insertMany(
    batches: Array<{ jobId: string; events: StoredEvent[] }>,
    order: { turn?: Promise<void>; locked?: () => void } = {},
  ): Promise<void> {
    let lockedCalled = false;
    const locked = () => {
      if (!lockedCalled) order.locked?.();
      lockedCalled = true;
    };
    batches = batches.filter((b) => b.events.length);
    if (!batches.length) return locked();
    const client = await this.db.connect();
    let broken: Error | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        await client.query('BEGIN');
        try {
          await this.copy(client, batches);
          break;
        } catch (err) {
          await client.query('ROLLBACK');
          if ((err as { code?: string }).code !== UNIQUE_VIOLATION || attempt > 0) throw err;
          batches = await this.notYetStored(client, batches);
          if (!batches.length) return locked();
        }
      }
      const cursors = storedRanges(batches);
      await order.turn;
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
   * The same write for a small group, in ONE statement and one round trip (a busy server
   * answers each round trip a few milliseconds late, and small groups are what live
   * viewers wait for). The writer sends it only when no other write is in flight, so the
   * cursors it reads are committed ones; a job whose cursor is not at the seq just before
   * its batch makes the statement fail as a whole (`OutOfOrderWrite`). ON CONFLICT makes a
   * retry after a lost COMMIT reply harmless.
   */
  async insertSmall(batches: Array<{ jobId: string; events: StoredEvent[] }>): Promise<void> {
    const params: unknown[] = [];
    const rows: string[] = [];
    for (const { jobId, events } of batches) {
      for (const e of events) {
        const i = params.push(jobId, e.seq, e.stream, e.chunk, e.at);
        rows.push(`($${i - 4}::uuid, $${i - 3}::bigint, $${i - 2}, $${i - 1}::bytea, $${i}::timestamptz)`);
      }
    }
    if (!rows.length) return;
    try {
      await this.db.query(
        `WITH ins AS (
           INSERT INTO job_events (job_id, seq, stream, chunk, created_at) VALUES ${rows.join(', ')}
           ON CONFLICT (job_id, seq) DO NOTHING
           RETURNING job_id, seq, octet_length(chunk) AS n),
         agg AS (SELECT job_id, min(seq) AS first, max(seq) AS last, sum(n) AS n FROM ins GROUP BY job_id),
         upd AS (
           UPDATE jobs j SET last_seq = GREATEST(j.last_seq, agg.last), bytes = j.bytes + agg.n
           FROM agg WHERE j.id = agg.job_id AND j.last_seq >= agg.first - 1
           RETURNING j.id)
         SELECT CASE WHEN (SELECT count(*) FROM upd) < (SELECT count(*) FROM agg) THEN job_events_out_of_order() END`,
        params,
      );
    } catch (err) {
      if ((err as { code?: string }).code === OUT_OF_ORDER) throw new OutOfOrderWrite((err as Error).message);
      throw err;
    }
  }

  private async copy(client: PoolClient, batches: Array<{ jobId: string; events: StoredEvent[] }>): Promise<void> {
    const stream = client.query(copyFrom('COPY job_events (job_id, seq, stream, chunk, created_at) FROM STDIN (FORMAT binary)'));
    const done = new Promise<void>((resolve, reject) => {
      stream.on('finish', resolve);
      stream.on('error', reject);
    });
    for (const piece of copyRows(batches)) stream.write(piece);
    stream.end();
    await done;
  }

  /** The batches whose first event is not in the table (a batch is stored whole or not at all). */
  private async notYetStored(client: PoolClient, batches: Array<{ jobId: string; events: StoredEvent[] }>) {
    const { rows } = await client.query<{ job_id: string; seq: string }>(
      'SELECT e.job_id, e.seq FROM job_events e JOIN unnest($1::uuid[], $2::bigint[]) AS b(id, seq) ON e.job_id = b.id AND e.seq = b.seq',
      [batches.map((b) => b.jobId), batches.map((b) => b.events[0].seq)],
    );
    const stored = new Set(rows.map((r) => `${r.job_id}:${r.seq}`));
    return batches.filter((b) => !stored.has(`${b.jobId}:${b.events[0].seq}`));
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
