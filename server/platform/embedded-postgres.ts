import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from './logger.ts';
import { installedBinaries, reachableBinaries } from './embedded-postgres/binaries.ts';
import { locatePostgresData } from './embedded-postgres/data-location.ts';
import { postgresRunAs } from './embedded-postgres/postgres-user.ts';
import { initCluster, startServer, type RunningPostgres } from './embedded-postgres/postgres-process.ts';
import { EmbeddedPostgresError, OWN_POSTGRES } from './embedded-postgres/start-error.ts';
import { freePort } from './free-port.ts';
import { processAlive } from './process-alive.ts';

export { EmbeddedPostgresError } from './embedded-postgres/start-error.ts';

export class DataDirBusyError extends Error {}

/** As root, where Postgres binaries and data go when the postgres user cannot reach the checkout or DATA_DIR. */
export const DEFAULT_EMBEDDED_POSTGRES_DIR = '/var/lib/vm-orchestrator';

export interface EmbeddedDatabase {
  url: string;
  /** The Postgres data directory in use (DATA_DIR/postgres, or where its symlink points). */
  pgData: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** A fixed port (a restart that clients must find again); default: a free one. */
  port?: number;
  /** See DEFAULT_EMBEDDED_POSTGRES_DIR. */
  systemDir?: string;
}

function readPid(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!processAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !processAlive(pid);
}

/**
 * Claims `dataDir` for this process. A live owner means a second server on the same data:
 * refuse with a clear message.
 */
function claimDataDir(dataDir: string): string {
  fs.mkdirSync(dataDir, { recursive: true });
  const lockFile = path.join(dataDir, 'server.pid');
  const owner = readPid(lockFile);
  if (owner && owner !== process.pid && processAlive(owner)) {
    throw new DataDirBusyError(
      `vm-orchestrator is already running on ${dataDir} (pid ${owner}). Stop it first, or set DATA_DIR to another directory.`,
    );
  }
  fs.writeFileSync(lockFile, `${process.pid}\n`);
  return lockFile;
}

/**
 * A dead owner (killed server) may have left its postmaster behind; stop that orphan so its
 * data directory can be reused safely.
 */
async function stopOrphanPostmaster(pgData: string, log: Logger): Promise<void> {
  const postmaster = readPid(path.join(pgData, 'postmaster.pid'));
  if (postmaster && processAlive(postmaster)) {
    log.warn({ pid: postmaster }, 'stopping a Postgres left running by a server that did not shut down');
    process.kill(postmaster, 'SIGINT');
    if (!(await waitForExit(postmaster, 15_000))) {
      throw new DataDirBusyError(`A Postgres (pid ${postmaster}) still holds ${pgData} and did not stop.`);
    }
  }
}

function readOrCreateSecret(dataDir: string): string {
  const secretFile = path.join(dataDir, 'postgres.secret');
  if (!fs.existsSync(secretFile)) {
    fs.writeFileSync(secretFile, crypto.randomBytes(18).toString('base64url'), { mode: 0o600 });
  }
  return fs.readFileSync(secretFile, 'utf8').trim();
}

/**
 * Starts a real Postgres from the embedded-postgres package's binaries, its data in
 * DATA_DIR/postgres. As root it runs as the `postgres` system user; when that user cannot
 * reach the binaries or DATA_DIR (a checkout under /root or a 0700 directory), binaries and
 * data go under `systemDir` instead (see binaries.ts and data-location.ts), decided before
 * anything is spawned. Every failure to start is an EmbeddedPostgresError (cause and fix in
 * one message) or a DataDirBusyError.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, options: EmbeddedPostgresOptions = {}): Promise<EmbeddedDatabase> {
  const systemDir = options.systemDir ?? DEFAULT_EMBEDDED_POSTGRES_DIR;
  const lockFile = claimDataDir(dataDir);
  const releaseLock = () => {
    if (readPid(lockFile) === process.pid) fs.rmSync(lockFile, { force: true });
  };
  let server: RunningPostgres | undefined;
  try {
    const who = postgresRunAs();
    const installed = await installedBinaries();
    const binaries = reachableBinaries(installed, who, systemDir, log);
    if (binaries.root !== installed.root) {
      log.info({ binaries: binaries.root }, `Postgres runs from ${binaries.root}: the postgres user cannot reach ${installed.root}`);
    }
    const { pgData, movedBecause } = locatePostgresData(dataDir, who, systemDir);
    if (movedBecause) log.info({ pgData, dataDir }, `the Postgres data of this DATA_DIR is in ${pgData} (${movedBecause})`);
    await stopOrphanPostmaster(pgData, log);
    const password = readOrCreateSecret(dataDir);
    const pgLog = log.child({ module: 'postgres' });
    if (!fs.existsSync(path.join(pgData, 'PG_VERSION'))) {
      log.info({ pgData }, 'initialising embedded Postgres');
      if (who) {
        // initdb runs as `who` and needs the directory to be its own.
        fs.mkdirSync(pgData, { recursive: true });
        fs.chownSync(pgData, who.uid, who.gid);
      }
      await initCluster({ binaries, pgData, password, who, log: pgLog });
    }
    const port = options.port ?? (await freePort());
    server = await startServer({ binaries, pgData, port, who, log: pgLog });
    const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
    await createConsoleDatabase(url);
    log.info({ port, pgData }, 'embedded Postgres ready');
    const running = server;
    return {
      url: `${url}/vmo`,
      pgData,
      async stop() {
        await running.stop();
        releaseLock();
      },
    };
  } catch (err) {
    await server?.stop().catch(() => {});
    releaseLock();
    if (err instanceof EmbeddedPostgresError || err instanceof DataDirBusyError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    throw new EmbeddedPostgresError(
      code && !message.includes(code) ? `${message} (${code})` : message,
      `LOG_LEVEL=debug shows Postgres's own log. ${OWN_POSTGRES}`,
      { cause: err },
    );
  }
}

/** The console's database inside the cluster, created on the first start. */
async function createConsoleDatabase(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: `${url}/postgres` });
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'vmo'");
    if (!exists.rowCount) await admin.query('CREATE DATABASE vmo');
  } finally {
    await admin.end();
  }
}
