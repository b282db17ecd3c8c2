import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, MigrationError, MIGRATIONS_DIR } from '../../server/platform/migrator.ts';
import { freshDatabase } from '../helpers/db.ts';

describe('migration runner', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    database = await freshDatabase({ migrate: false });
  });
  afterAll(() => database.drop());

  it('applies every migration to a fresh database and records it', async () => {
    const applied = await migrate(database.db);
    const files = fs.readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort();
    expect(applied).toEqual(files);
    const { rows } = await database.db.query("SELECT to_regclass('job_events') AS t, to_regclass('users') AS u");
    expect(rows[0]).toEqual({ t: 'job_events', u: 'users' });
  });

  it('applies nothing when run again', async () => {
    expect(await migrate(database.db)).toEqual([]);
  });

  it('stores NUL bytes in job_events.chunk', async () => {
    const { rows: [job] } = await database.db.query(
      "INSERT INTO jobs (type, command, status) VALUES ('make', 'make x', 'running') RETURNING id",
    );
    const bytes = Buffer.from([0, 255, 0x41, 0]);
    await database.db.query("INSERT INTO job_events (job_id, seq, stream, chunk) VALUES ($1, 1, 'stdout', $2)", [job.id, bytes]);
    const { rows } = await database.db.query('SELECT chunk FROM job_events WHERE job_id = $1', [job.id]);
    expect(Buffer.compare(rows[0].chunk, bytes)).toBe(0);
  });

  it('refuses a database that has a migration the code does not know', async () => {
    await database.db.query("INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_from_the_future.sql')");
    await expect(migrate(database.db)).rejects.toThrow(MigrationError);
    await expect(migrate(database.db)).rejects.toThrow(/9999_from_the_future\.sql/);
    await database.db.query('DELETE FROM schema_migrations WHERE version = 9999');
  });

  it('rolls back a failing migration and records nothing of it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-mig-'));
    for (const f of fs.readdirSync(MIGRATIONS_DIR)) fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, '9000_broken.sql'), 'CREATE TABLE half_done (x int);\nSELECT no_such_function();');
    await expect(migrate(database.db, undefined, dir)).rejects.toThrow(/9000_broken\.sql failed/);
    const { rows } = await database.db.query("SELECT to_regclass('half_done') AS t, (SELECT count(*)::int FROM schema_migrations WHERE version = 9000) AS n");
    expect(rows[0]).toEqual({ t: null, n: 0 });
    fs.rmSync(dir, { recursive: true });
  });
});
