import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { createPool, type Db } from '../server/platform/db.ts';
import { startEmbeddedPostgres } from '../server/platform/embedded-postgres.ts';
import { createLogger } from '../server/platform/logger.ts';
import { migrate } from '../server/platform/migrator.ts';

/**
 * A real server with its own embedded Postgres (or BENCH_DATABASE_URL) for benchmarks. API
 * only unless `serveUi` (then the built UI in build/, as `npm start` serves it: see buildUiIfNeeded).
 */
export async function benchServer(registryEntries: Record<string, string>, env: Record<string, string> = {}, { serveUi = false } = {}) {
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
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.httpServer.address() as { port: number }).port}`;
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'bench-password' }),
  });
  const cookie = res.headers.get('set-cookie')!.split(';')[0];
  return {
    app, db, url, base, cookie,
    async api(method: string, p: string, body?: unknown) {
      const r = await fetch(`${base}${p}`, {
        method, headers: { cookie, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return r.json();
    },
    socket(ns: string): Promise<Socket> {
      return new Promise((resolve, reject) => {
        const s = connect(`${base}${ns}`, { transports: ['websocket'], extraHeaders: { cookie }, reconnection: false });
        s.once('connect', () => resolve(s));
        s.once('connect_error', reject);
      });
    },
    async close() {
      await app.close();
      await db.end();
      await pg?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function printTable(rows: Array<Record<string, string | number>>) {
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(width[i])).join(' | ')} |`;
  console.log(line(cols));
  console.log(`|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(cols.map((c) => String(r[c]))));
}

export function writeResults(name: string, data: unknown) {
  const dir = path.resolve(import.meta.dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), host: { cpus: os.cpus().length, memGb: Math.round(os.totalmem() / 2 ** 30) }, ...data as object }, null, 2));
  console.log(`\nwrote ${file}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Throughput {
  mb: number;
  seconds: number;
  mbPerS: number;
  peakRssMb: number;
}

export interface Latency {
  p50: number;
  p99: number;
  max: number;
  samples: number;
  peakRssMb: number;
}

/** Samples a process's resident memory every 50 ms; `stop()` returns the peak in MB. */
export function rssSampler(pid: number) {
  let peak = 0;
  const read = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) / 1024);
    } catch {
      // gone
    }
  };
  read();
  const t = setInterval(read, 50);
  return { stop: () => (clearInterval(t), read(), Math.round(peak)) };
}

/**
 * Keystroke echo latency: sends one character at a time and times until it comes back.
 * The first `warmup` samples are dropped (connection and JIT warm-up).
 */
export async function measureLatency(
  send: (ch: string) => void,
  listen: (fn: (text: string) => void) => void,
  keystrokes: number,
  warmup = 20,
): Promise<number[]> {
  let waiting: { ch: string; t0: number; resolve: (ms: number) => void } | null = null;
  listen((text) => {
    if (waiting && text.includes(waiting.ch)) {
      const w = waiting;
      waiting = null;
      w.resolve(performance.now() - w.t0);
    }
  });
  const samples: number[] = [];
  for (let i = 0; i < keystrokes + warmup; i++) {
    const ch = String.fromCharCode(97 + (i % 26));
    const ms = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo for keystroke ${i}`)), 5000);
      waiting = { ch, t0: performance.now(), resolve: (v) => (clearTimeout(timer), resolve(v)) };
      send(ch);
    });
    if (i >= warmup) samples.push(ms);
    await sleep(2);
  }
  return samples.sort((a, b) => a - b);
}

export const latencyRow = (samples: number[], peakRssMb: number): Latency => ({
  p50: +percentile(samples, 50).toFixed(2),
  p99: +percentile(samples, 99).toFixed(2),
  max: +samples[samples.length - 1].toFixed(2),
  samples: samples.length,
  peakRssMb,
});

/**
 * Runs `script` with BENCH_ROLE=server in a process of its own (a benchmark's server role
 * prints one JSON line with its address and cookie) and returns that line's fields.
 * `serveUi`: the server also serves the built UI, for a browser (see serveForParent).
 * BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the server process there.
 */
export async function startServerProcess(
  script: string, env: Record<string, string> = {}, { serveUi = false } = {},
): Promise<{ child: ChildProcess; base: string; cookie: string } & Record<string, unknown>> {
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', script], {
    env: { ...process.env, ...env, BENCH_ROLE: 'server', ...(serveUi ? { BENCH_SERVE_UI: '1' } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`the server process exited (${code})`)));
  });
  return { child, ...JSON.parse(line) };
}

/**
 * The server role of a benchmark that runs its server in a process of its own: starts one,
 * prints its address for the parent (see startServerProcess), and stops on SIGTERM/SIGINT.
 * BENCH_SERVE_UI=1 (set by startServerProcess's `serveUi`) serves the built UI too.
 * Never returns.
 */
export async function serveForParent(env: Record<string, string> = {}): Promise<never> {
  const s = await benchServer({}, env, { serveUi: process.env.BENCH_SERVE_UI === '1' });
  process.stdout.write(`${JSON.stringify({ base: s.base, cookie: s.cookie })}\n`);
  const stop = async () => {
    await s.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  return new Promise<never>(() => {});
}

/**
 * The UI build a server with `serveUi` serves, built first when it is missing or older than
 * its sources (`npm run build:if-needed`, which says so when it builds; a minute or two on
 * two cores). Returns why not when the build fails.
 */
export function buildUiIfNeeded(): { ok: true } | { skipped: string } {
  const root = path.resolve(import.meta.dirname, '..');
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'server/tools/build-if-needed.ts')], { cwd: root, stdio: 'inherit' });
  return r.status === 0 ? { ok: true } : { skipped: `the UI build failed (exit ${r.status ?? r.signal}); try npx vite build` };
}
