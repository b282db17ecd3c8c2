import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { createPool } from '../server/platform/db.ts';
import { createLogger } from '../server/platform/logger.ts';
import { benchServer, listenAndSignIn, printTable, writeResults } from './lib.ts';

/**
 * `npm run bench:cluster`: two console servers on one Postgres. Jobs run on server A; one
 * viewer process watches them through A and another through B, at the same time. Each line
 * carries the time it was printed, so both viewers measure print-to-viewer latency of the
 * same lines: the difference is the cost of reaching a viewer on another server.
 */
const FIXTURE = path.resolve(import.meta.dirname, 'fixtures');
const JOBS = Number(process.env.BENCH_JOBS ?? 20);
const LINES = Number(process.env.BENCH_LINES ?? 1000); // 5 s at 200 lines/s

const a = await benchServer({ bench: FIXTURE });
const log = createLogger('silent');
const dbB = createPool(a.url, 20);
const configB = loadConfig({ LOG_LEVEL: 'silent', MKCLI_REGISTRY: path.join(FIXTURE, 'none'), DATA_DIR: '/tmp/vmo-bench-b' });
const b = await createApp({ config: configB, db: dbB, log, serveUi: false, databaseUrl: a.url });
const { base: baseB, cookie: cookieB } = await listenAndSignIn(b);

type Pct = { samples: number; p50: number; p99: number; max: number };
type Watched = { events: number; latency: Pct; steadyLatency: Pct };

async function startWatcher(base: string, cookie: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'watch-job.ts'), base, cookie], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, WATCH_LATENCY: '1' },
  });
  const lines = readline.createInterface({ input: child.stdout });
  const next = () => new Promise<string>((resolve) => lines.once('line', resolve));
  if ((await next()) !== 'ready') throw new Error('watcher did not connect');
  return {
    async watch(jobIds: string[]): Promise<Watched> {
      child.stdin.write(`${jobIds.join(' ')}\n`);
      return JSON.parse(await next());
    },
  };
}

const same = await startWatcher(a.base, a.cookie);
const other = await startWatcher(baseB, cookieB);
// Let B's adapter see A (its first heartbeat) before the jobs start.
await new Promise((r) => setTimeout(r, 1000));
const jobs = await Promise.all(
  Array.from({ length: JOBS }, () => a.api('POST', '/api/jobs', { type: 'make', project: 'bench', target: 'ticker', variables: { LINES: String(LINES) } })),
);
const ids = jobs.map((j: { id: string }) => j.id);
const [onA, onB] = await Promise.all([same.watch(ids), other.watch(ids)]);
// The watchers already exit on a gap or a duplicate; here every printed line must have come.
for (const [name, w] of [['A', onA], ['B', onB]] as const) {
  if (w.latency.samples !== JOBS * LINES) throw new Error(`viewer on ${name} saw ${w.latency.samples} of ${JOBS * LINES} lines`);
}

const row = (viewer: string, w: Watched) => ({
  viewer,
  events: w.events,
  'p50 ms': w.latency.p50.toFixed(1),
  'p99 ms': w.latency.p99.toFixed(1),
  'steady p50 ms': w.steadyLatency.p50.toFixed(1),
  'steady p99 ms': w.steadyLatency.p99.toFixed(1),
  'max ms': w.latency.max.toFixed(1),
});
console.log(`\n${JOBS} jobs x 200 lines/s on server A, printed -> viewer socket (steady: after each job's first second)\n`);
const rows = [row('on A (same server)', onA), row('on B (other server)', onB)];
printTable(rows);
writeResults('cluster', { jobs: JOBS, lines: LINES, sameServer: onA, otherServer: onB });

await b.close();
await dbB.end();
await a.close();
process.exit(0);
