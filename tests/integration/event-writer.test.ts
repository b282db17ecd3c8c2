import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRepository, OutOfOrderWrite } from '../../server/events/event.repository.ts';
import { EventWriter } from '../../server/events/event-writer.ts';
import { freshDatabase } from '../helpers/db.ts';

describe('group-commit event writer', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    database = await freshDatabase();
  });
  afterAll(() => database.drop());

  const newJob = async () =>
    (await database.db.query("INSERT INTO jobs (type, command, status) VALUES ('make', 'x', 'running') RETURNING id")).rows[0].id as string;
  const ev = (seq: number, text: string) => ({ seq, stream: 'stdout' as const, chunk: Buffer.from(text), at: new Date() });

  it('stores batches of many jobs, moves each cursor, and counts a retried batch once', async () => {
    const repo = new EventRepository(database.db);
    const writer = new EventWriter(repo);
    const [a, b] = [await newJob(), await newJob()];
    await Promise.all([writer.write(a, [ev(1, 'a1'), ev(2, 'a2')]), writer.write(b, [ev(1, 'b1')])]);
    // A retry of a batch whose COMMIT reply was lost must not duplicate or double count.
    await writer.write(a, [ev(1, 'a1'), ev(2, 'a2')]);
    const { rows } = await database.db.query('SELECT id, last_seq, bytes FROM jobs WHERE id = ANY($1) ORDER BY last_seq', [[a, b]]);
    expect(rows.map((r) => [r.id, r.last_seq, r.bytes])).toEqual([[b, 1, 2], [a, 2, 4]]);
    expect((await repo.list(a, 0, 100)).map((e) => e.chunk.toString())).toEqual(['a1', 'a2']);
  });

  it('does not let one bad batch hold back the others written with it', async () => {
    const writer = new EventWriter(new EventRepository(database.db));
    const good = await newJob();
    const results = await Promise.allSettled([
      writer.write(good, [ev(1, 'first')]),
      writer.write('00000000-0000-0000-0000-000000000000', [ev(1, 'orphan')]),
      writer.write(good, [ev(2, 'second')]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const { rows } = await database.db.query('SELECT last_seq FROM jobs WHERE id = $1', [good]);
    expect(rows[0].last_seq).toBe(2);
  });

  it('pages by bytes without reading past the limit, always returning at least one row', async () => {
    const repo = new EventRepository(database.db);
    const job = await newJob();
    await repo.insertMany([{ jobId: job, events: [1, 2, 3, 4].map((i) => ({ ...ev(i, ''), chunk: Buffer.alloc(1000, i) })) }]);
    expect((await repo.list(job, 0, 100, 2500)).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await repo.list(job, 0, 100, 10)).map((e) => e.seq)).toEqual([1]);
    expect((await repo.list(job, 2, 1, 10_000)).map((e) => e.seq)).toEqual([3]);
  });

  /** A promise and the functions that settle it. */
  const gate = () => {
    let open!: () => void;
    let fail!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => ((open = res), (fail = rej)));
    promise.catch(() => {}); // a failed gate is awaited later, by the code under test
    return { promise, open, fail };
  };
  const visible = async (job: string) =>
    (await database.db.query('SELECT seq FROM job_events WHERE job_id = $1 ORDER BY seq', [job])).rows.map((r) => Number(r.seq));

  it('commits two transactions of one job in the order they were sent, whichever stores its rows first', async () => {
    const repo = new EventRepository(database.db);
    const job = await newJob();
    const firstTurn = gate();
    const firstLocked = gate();
    // The first transaction stores its rows, then waits for its turn; the second stores
    // its rows meanwhile and must not commit before the first.
    const first = repo.insertMany([{ jobId: job, events: [ev(1, 'a'), ev(2, 'b')] }], { turn: firstTurn.promise, locked: firstLocked.open });
    const second = repo.insertMany([{ jobId: job, events: [ev(3, 'c'), ev(4, 'd')] }], { turn: firstLocked.promise });
    await new Promise((r) => setTimeout(r, 300));
    expect(await visible(job)).toEqual([]);
    firstTurn.open();
    await Promise.all([first, second]);
    expect(await visible(job)).toEqual([1, 2, 3, 4]);
    const { rows } = await database.db.query('SELECT last_seq, bytes FROM jobs WHERE id = $1', [job]);
    expect([rows[0].last_seq, rows[0].bytes]).toEqual([4, 4]);
  });

  it('rolls back a transaction whose earlier batch failed, so readers never see a gap', async () => {
    const repo = new EventRepository(database.db);
    const job = await newJob();
    const firstTurn = gate();
    const firstLocked = gate();
    const first = repo.insertMany([{ jobId: job, events: [ev(1, 'a')] }], { turn: firstTurn.promise, locked: firstLocked.open });
    const second = repo.insertMany([{ jobId: job, events: [ev(2, 'b')] }], { turn: firstLocked.promise });
    firstTurn.fail(new Error('connection lost'));
    await expect(first).rejects.toThrow('connection lost');
    await expect(second).rejects.toBeInstanceOf(OutOfOrderWrite);
    expect(await visible(job)).toEqual([]);
    // Sent again in order, both go in.
    await repo.insertMany([{ jobId: job, events: [ev(1, 'a')] }]);
    await repo.insertMany([{ jobId: job, events: [ev(2, 'b')] }]);
    expect(await visible(job)).toEqual([1, 2]);
  });

  it('keeps a fast job contiguous for readers while two of its batches are in flight', async () => {
    const writer = new EventWriter(new EventRepository(database.db));
    const job = await newJob();
    // Alternating large and small batches make the later one's rows ready first.
    const writes: Promise<void>[] = [];
    let reading = true;
    const gaps: string[] = [];
    const reader = (async () => {
      while (reading) {
        const seqs = await visible(job);
        const { rows } = await database.db.query('SELECT last_seq FROM jobs WHERE id = $1', [job]);
        if (seqs.some((q, i) => q !== i + 1)) gaps.push(`rows ${seqs.join(',')}`);
        if (rows[0].last_seq < seqs.length) gaps.push(`last_seq ${rows[0].last_seq} behind ${seqs.length} rows`);
      }
    })();
    for (let seq = 1; seq <= 40; seq++) {
      const size = seq % 2 ? 2 * 1024 * 1024 : 10;
      writes.push(writer.write(job, [{ seq, stream: 'stdout', chunk: Buffer.alloc(size, seq), at: new Date() }]));
    }
    await Promise.all(writes);
    reading = false;
    await reader;
    expect(gaps).toEqual([]);
    expect(await visible(job)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('refuses a one-statement write that would leave a gap, storing none of it', async () => {
    const repo = new EventRepository(database.db);
    const [job, other] = [await newJob(), await newJob()];
    await expect(repo.insertSmall([{ jobId: other, events: [ev(1, 'fine')] }, { jobId: job, events: [ev(2, 'early')] }]))
      .rejects.toBeInstanceOf(OutOfOrderWrite);
    expect(await visible(job)).toEqual([]);
    expect(await visible(other)).toEqual([]);
    await repo.insertSmall([{ jobId: job, events: [ev(1, 'first')] }]);
    await repo.insertSmall([{ jobId: job, events: [ev(2, 'second')] }, { jobId: other, events: [ev(1, 'fine')] }]);
    expect(await visible(job)).toEqual([1, 2]);
    expect(await visible(other)).toEqual([1]);
  });
});
