import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { createPool, type Db } from '../server/platform/db.ts';
import { startEmbeddedPostgres } from '../server/platform/embedded-postgres.ts';
import { createLogger } from '../server/platform/logger.ts';
import { migrate } from '../server/platform/migrator.ts';

/**
 * The server side of the benchmarks, apart from their clients: a benchmark that runs its
 * server in a process of its own runs this module compiled (bench/server-role.ts), so that
 * process holds what `npm start` holds and no client library.
 */

/** Puts an app on a loopback port and signs in as the bench's admin. */
export async function listenAndSignIn(app: Awaited<ReturnType<typeof createApp>>): Promise<{ base: string; cookie: string }> {
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.httpServer.address() as { port: number }).port}`;
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'bench-password' }),
  });
  return { base, cookie: res.headers.get('set-cookie')!.split(';')[0] };
}

/**
 * A real server with its own embedded Postgres (or BENCH_DATABASE_URL), signed in. API only
 * unless `serveUi` (then the built UI in build/, as `npm start` serves it).
 */
export async function startBenchApp(registryEntries: Record<string, string>, env: Record<string, string> = {}, { serveUi = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-bench-'));
  // Open to the postgres user (as root): the database stays in `dir` instead of /var/lib/vm-orchestrator.
  fs.chmodSync(dir, 0o755);
  const log = createLogger('silent');
  const pg = process.env.BENCH_DATABASE_URL ? undefined : await startEmbeddedPostgres(dir, log);
  const url = process.env.BENCH_DATABASE_URL ?? pg!.url;
  const db: Db = createPool(url, 20);
  await migrate(db);
  const registry = path.join(dir, 'registry');
  fs.writeFileSync(registry, Object.entries(registryEntries).map(([a, d]) => `${a}=${d}`).join('\n'));
  // DATA_DIR: the VM engine keeps its server secret there; a bench must not write into ./data.
  const config = loadConfig({ LOG_LEVEL: 'silent', MKCLI_REGISTRY: registry, JOB_OUTPUT_CAP_BYTES: String(2 ** 31), DATA_DIR: dir, ...env });
  const app = await createApp({ config, db, log, serveUi, databaseUrl: url });
  await app.auth.bootstrapAdmin('bench-password', () => {});
  const { base, cookie } = await listenAndSignIn(app);
  return {
    app, db, url, base, cookie,
    async close() {
      await app.close();
      await db.end();
      await pg?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A server in a process of its own for a parent benchmark: starts one, prints its address
 * and cookie as one JSON line (see startServerProcess in lib.ts), and stops on SIGTERM/SIGINT.
 * BENCH_SERVE_UI=1 (startServerProcess's `serveUi`) serves the built UI too. Never returns.
 */
export async function serveForParent(env: Record<string, string> = {}): Promise<never> {
  const s = await startBenchApp({}, env, { serveUi: process.env.BENCH_SERVE_UI === '1' });
  process.stdout.write(`${JSON.stringify({ base: s.base, cookie: s.cookie })}\n`);
  const stop = async () => {
    await s.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  return new Promise<never>(() => {});
}
