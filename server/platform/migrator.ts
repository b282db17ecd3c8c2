import fs from 'node:fs/promises';
import path from 'node:path';
import { ADVISORY_LOCKS } from './advisory-locks.ts';
import type { Db } from './db.ts';
import { withTransaction } from './db.ts';
import type { Logger } from './logger.ts';
import { PROJECT_ROOT } from './project-root.ts';

export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'migrations');

export class MigrationError extends Error {}

interface MigrationFile {
  version: number;
  name: string;
  sql: string;
}

async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const out: MigrationFile[] = [];
  for (const name of files) {
    const m = /^(\d+)_[\w-]+\.sql$/.exec(name);
    if (!m) throw new MigrationError(`Migration file name ${name} is not NNNN_name.sql`);
    out.push({ version: Number(m[1]), name, sql: await fs.readFile(path.join(dir, name), 'utf8') });
  }
  const seen = new Set<number>();
  for (const f of out) {
    if (seen.has(f.version)) throw new MigrationError(`Two migrations share number ${f.version}`);
    seen.add(f.version);
  }
  return out;
}

/**
 * Applies pending migrations in order, each in its own transaction, recorded in
 * schema_migrations. An advisory lock keeps two starting servers from racing.
 * A database that has a migration this code does not know was written by a newer
 * version: running against it could corrupt data, so it is refused.
 */
export async function migrate(db: Db, log?: Logger, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = await readMigrations(dir);
  const client = await db.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.migrations]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number; name: string }>(
      'SELECT version, name FROM schema_migrations ORDER BY version',
    );
    const known = new Map(files.map((f) => [f.version, f]));
    const unknown = rows.filter((r) => !known.has(r.version));
    if (unknown.length) {
      throw new MigrationError(
        `The database has migration(s) this version does not know: ${unknown.map((u) => u.name).join(', ')}. ` +
          'It was used by a newer vm-orchestrator; run that version or point DATABASE_URL/DATA_DIR elsewhere.',
      );
    }
    const applied = new Set(rows.map((r) => r.version));
    const done: string[] = [];
    for (const f of files) {
      if (applied.has(f.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(f.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [f.version, f.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw new MigrationError(`Migration ${f.name} failed: ${(err as Error).message}`);
      }
      log?.info({ migration: f.name }, 'applied migration');
      done.push(f.name);
    }
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.migrations]).catch(() => {});
    client.release();
  }
}

export { withTransaction };
