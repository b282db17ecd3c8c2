import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRepository } from '../../server/events/event.repository.ts';
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
});
