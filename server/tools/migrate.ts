import { ConfigError, loadConfig } from '../config.ts';
import { createPool } from '../platform/db.ts';
import { startEmbeddedPostgres } from '../platform/embedded-postgres.ts';
import { createLogger } from '../platform/logger.ts';
import { migrate } from '../platform/migrator.ts';

/** `npm run migrate`: apply pending migrations and exit. */
try {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, config.LOG_FORMAT);
  const embedded = config.DATABASE_URL ? undefined : await startEmbeddedPostgres(config.dataDir, log, { systemDir: config.EMBEDDED_POSTGRES_DIR });
  const db = createPool(config.DATABASE_URL ?? embedded!.url);
  try {
    const applied = await migrate(db, log);
    console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Database is up to date.');
  } finally {
    await db.end();
    await embedded?.stop();
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : (err as Error).message);
  process.exit(1);
}
