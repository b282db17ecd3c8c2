import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import { bundleServer, SERVER_NODE_FLAGS } from '../server/tools/server-bundle.ts';
import { startBenchApp } from './bench-server.ts';

export { listenAndSignIn } from './bench-server.ts';

/** A real server with its own embedded Postgres (or BENCH_DATABASE_URL), and a client for it. */
export async function benchServer(registryEntries: Record<string, string>, env: Record<string, string> = {}) {
  const s = await startBenchApp(registryEntries, env);
  const { base, cookie } = s;
  return {
    ...s,
    async api(method: string, p: string, body?: unknown) {
      const r = await fetch(`${base}${p}`, {
        method, headers: { cookie, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return r.json();
    },
    socket(ns: string): Promise<Socket> {
      return new Promise((resolve, reject) => {
        const c = connect(`${base}${ns}`, { transports: ['websocket'], extraHeaders: { cookie }, reconnection: false });
        c.once('connect', () => resolve(c));
        c.once('connect_error', reject);
      });
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

const ROOT = path.resolve(import.meta.dirname, '..');
/** Compiled once per benchmark run, however many server processes it starts. */
let serverRoleBundle: Promise<string> | undefined;

/**
 * Starts a bench server in a process of its own, run as `npm start` runs the console:
 * compiled to JavaScript (bench/server-role.ts, bundled like the server), under plain node.
 * It prints one JSON line with its address and cookie; returns that line's fields.
 * `serveUi`: the server also serves the built UI, for a browser (see buildUiIfNeeded).
 * BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the server process there;
 * BENCH_SERVER_NODE_FLAGS replaces `npm start`'s node flags (to compare settings).
 */
export async function startServerProcess(
  env: Record<string, string> = {}, { serveUi = false } = {},
): Promise<{ child: ChildProcess; base: string; cookie: string } & Record<string, unknown>> {
  serverRoleBundle ??= bundleServer(ROOT, { entry: 'bench/server-role.ts', out: '.build/bench/server-role.mjs' });
  const entry = await serverRoleBundle;
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const flags = process.env.BENCH_SERVER_NODE_FLAGS?.split(' ') ?? SERVER_NODE_FLAGS;
  const child = spawn(process.execPath, [...prof, ...flags, entry], {
    env: { ...process.env, BENCH_SERVER_ENV: JSON.stringify(env), ...(serveUi ? { BENCH_SERVE_UI: '1' } : {}) },
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
 * The UI build a server with `serveUi` serves, built first when it is missing or older than
 * its sources (`npm run build:if-needed`, which says so when it builds; a minute or two on
 * two cores). Returns why not when the build fails.
 */
export function buildUiIfNeeded(): { ok: true } | { skipped: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server/tools/build-if-needed.ts')], { cwd: ROOT, stdio: 'inherit' });
  return r.status === 0 ? { ok: true } : { skipped: `the UI build failed (exit ${r.status ?? r.signal}); try npx vite build` };
}
