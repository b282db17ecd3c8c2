import { ConfigError, loadConfig } from './config.ts';
import { createApp } from './app.ts';
import { createPool } from './platform/db.ts';
import { DataDirBusyError, EmbeddedPostgresError, startEmbeddedPostgres, type EmbeddedDatabase } from './platform/embedded-postgres.ts';
import { createLogger } from './platform/logger.ts';
import { MigrationError, migrate } from './platform/migrator.ts';
import { mapStackTracesLazily } from './platform/stack-trace-map.ts';

mapStackTracesLazily(import.meta.url);

/** Boot: config, database (embedded or DATABASE_URL), migrate, listen, graceful shutdown. */
async function main() {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, config.LOG_FORMAT);
  let embedded: EmbeddedDatabase | undefined;
  let url = config.DATABASE_URL;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.dataDir, log, { systemDir: config.EMBEDDED_POSTGRES_DIR });
    url = embedded.url;
  }
  const db = createPool(url);
  let app: Awaited<ReturnType<typeof createApp>> | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    try {
      await app?.close();
      await db.end();
      await embedded?.stop();
    } finally {
      process.exit(0);
    }
  };
  // Ctrl-C reaches the whole process group, so the embedded Postgres may stop at the same time
  // as we do and end connections under us ("terminating connection due to administrator
  // command", 57P01). While shutting down that is expected, not a crash.
  process.on('uncaughtException', (err) => {
    if (stopping && (err as { code?: string }).code === '57P01') return;
    console.error(err);
    process.exit(1);
  });
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    await migrate(db, log);
    app = await createApp({ config, db, log, databaseUrl: url });
    await app.auth.bootstrapAdmin(config.ADMIN_PASSWORD, (line) => process.stdout.write(`${line}\n`));
    await app.listen(config.PORT, config.HOST);
  } catch (err) {
    await embedded?.stop().catch(() => {});
    throw err;
  }
  log.info(`vm-orchestrator listening on http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${config.PORT}`);
}

main().catch((err) => {
  // Errors that explain themselves print as their message alone: a stack trace would bury
  // the cause and the fix they name.
  const known = err instanceof ConfigError || err instanceof DataDirBusyError || err instanceof EmbeddedPostgresError
    || err instanceof MigrationError;
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`Port already in use: ${(err as Error).message}. Is vm-orchestrator already running? Set PORT to use another.`);
  } else {
    console.error(known ? err.message : err);
  }
  process.exit(1);
});
