import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { benchServer, printTable, writeResults } from './lib.ts';

/**
 * `npm run bench:jobs`: the job event pipeline against the physical limit (COPY of the same
 * bytes into a bytea table) and the naive design (one INSERT per chunk read).
 * 1. ingest: `seq 1 2000000` and 100 MB of random bytes, stored and delivered to one live socket
 * 2. latency: 50 concurrent jobs at 200 lines/s, print-to-browser-socket p50/p99
 * 3. replay: a 1,000,000-line job through the HTTP events API
 */
const FIXTURE = path.resolve(import.meta.dirname, 'fixtures');
const RANDOM_BYTES = Number(process.env.BENCH_RANDOM_BYTES ?? 100 * 1024 * 1024);
const s = await benchServer({ bench: FIXTURE });
const mb = (bytes: number) => bytes / 1024 / 1024;

/** Collects a command's output chunks as they come from its pipe (what every design starts from). */
function capture(argv: string[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const child = spawn(argv[0], argv.slice(1));
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', reject);
    child.on('close', () => resolve(chunks));
  });
}

/** A live viewer in its own process (as a browser would be), connected before the jobs start. */
async function startWatcher(latency = false, jobs?: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'watch-job.ts'), s.base, s.cookie], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, WATCH_LATENCY: latency ? '1' : '0', ...(jobs ? { WATCH_JOBS: String(jobs) } : {}) },
  });
  const lines = readline.createInterface({ input: child.stdout });
  const next = () => new Promise<string>((resolve) => lines.once('line', resolve));
  if ((await next()) !== 'ready') throw new Error('watcher did not connect');
  type Pct = { samples: number; p50: number; p99: number; max: number };
  type Summary = { events: number; bytes: number; latency: Pct; steadyLatency: Pct; settledLatency: Pct; serverLatency: Pct };
  return {
    async watch(jobIds: string[]) {
      child.stdin.write(`${jobIds.join(' ')}\n`);
      return JSON.parse(await next()) as Summary;
    },
    /** Joins a job as soon as it exists (with `jobs` given, the summary waits for that many). */
    join(jobId: string) {
      child.stdin.write(`${jobId}\n`);
    },
    async summary() {
      return JSON.parse(await next()) as Summary;
    },
  };
}

async function ours(target: string, variables: Record<string, string> = {}) {
  const watcher = await startWatcher();
  const t0 = performance.now();
  const job = await s.api('POST', '/api/jobs', { type: 'make', project: 'bench', target, variables });
  const summary = await watcher.watch([job.id]);
  const seconds = (performance.now() - t0) / 1000;
  const final = await s.api('GET', `/api/jobs/${job.id}`);
  return { seconds, bytes: final.bytes as number, events: final.lastSeq as number, received: summary.events };
}

/** The physical limit: the same bytes in 64 KiB rows, binary COPY into a bytea table. */
async function copyBaseline(chunks: Buffer[]) {
  const client = new pg.Client({ connectionString: s.url });
  await client.connect();
  // A logged table like job_events (a TEMP table would skip the WAL and flatter the baseline).
  await client.query('DROP TABLE IF EXISTS copy_sink');
  await client.query('CREATE TABLE copy_sink (seq bigint, chunk bytea)');
  const rows = rechunk(chunks, 64 * 1024);
  const t0 = performance.now();
  const stream = client.query(copyFrom('COPY copy_sink FROM STDIN (FORMAT binary)'));
  const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
  stream.write(header);
  rows.forEach((chunk, i) => {
    const head = Buffer.alloc(2 + 4 + 8 + 4);
    head.writeInt16BE(2, 0);
    head.writeInt32BE(8, 2);
    head.writeBigInt64BE(BigInt(i + 1), 6);
    head.writeInt32BE(chunk.length, 14);
    stream.write(head);
    stream.write(chunk);
  });
  stream.write(Buffer.from([0xff, 0xff]));
  await new Promise<void>((resolve, reject) => stream.end(() => resolve()).on('error', reject));
  const seconds = (performance.now() - t0) / 1000;
  await client.query('DROP TABLE copy_sink');
  await client.end();
  return { seconds, bytes: rows.reduce((n, r) => n + r.length, 0) };
}

/** The naive design: one autocommit INSERT per chunk as the pipe delivers it. */
async function naive(argv: string[]) {
  const pool = new pg.Pool({ connectionString: s.url, max: 1 });
  await pool.query('CREATE TABLE IF NOT EXISTS naive_sink (id bigserial, chunk bytea)');
  const t0 = performance.now();
  let bytes = 0;
  const inserts: Promise<unknown>[] = [];
  await new Promise<void>((resolve) => {
    const child = spawn(argv[0], argv.slice(1));
    child.stdout.on('data', (b: Buffer) => {
      bytes += b.length;
      inserts.push(pool.query('INSERT INTO naive_sink (chunk) VALUES ($1)', [b]));
    });
    child.on('close', () => resolve());
  });
  await Promise.all(inserts);
  const seconds = (performance.now() - t0) / 1000;
  await pool.query('DROP TABLE naive_sink');
  await pool.end();
  return { seconds, bytes, rows: inserts.length };
}

/**
 * The per-line variant of the naive design (a log shipper that inserts each line it reads):
 * the first `sample` lines of the output, one awaited autocommit INSERT each; the rate is
 * then applied to the whole output's line count.
 */
async function naivePerLine(chunks: Buffer[], sample = 20_000) {
  const lines = Buffer.concat(chunks).toString('latin1').split('\n');
  const pool = new pg.Pool({ connectionString: s.url, max: 1 });
  await pool.query('CREATE TABLE IF NOT EXISTS naive_lines (id bigserial, chunk bytea)');
  const t0 = performance.now();
  for (const line of lines.slice(0, sample)) await pool.query('INSERT INTO naive_lines (chunk) VALUES ($1)', [Buffer.from(line, 'latin1')]);
  const seconds = (performance.now() - t0) / 1000;
  await pool.query('DROP TABLE naive_lines');
  await pool.end();
  const rowsPerSecond = Math.min(sample, lines.length) / seconds;
  return { sample, rowsPerSecond, lines: lines.length, extrapolatedSeconds: lines.length / rowsPerSecond };
}

function rechunk(chunks: Buffer[], size: number): Buffer[] {
  const all = Buffer.concat(chunks);
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.subarray(i, i + size));
  return out;
}

const ingest: Array<Record<string, string | number>> = [];
const results: Record<string, unknown> = {};
/** Flush dirty pages before each measurement, so one run's checkpoint does not land in the next (needs superuser). */
async function settle() {
  await s.db.query('CHECKPOINT').catch(() => {});
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const REPS = Number(process.env.BENCH_REPS ?? 3);
/** BENCH_PARTS=ingest,latency,replay (default all) runs only those parts. */
const PARTS = new Set((process.env.BENCH_PARTS ?? 'ingest,latency,replay').split(','));

// The random bytes are drawn once into a file that every design then reads with `cat`:
// drawing 100 MB from /dev/urandom costs 0.2-0.4 s of CPU, which the COPY baseline (fed
// from memory) would not pay and which is not part of any pipeline.
const randomFile = path.join(os.tmpdir(), `vmo-bench-random-${RANDOM_BYTES}`);
if (PARTS.has('ingest') && (!fs.existsSync(randomFile) || fs.statSync(randomFile).size !== RANDOM_BYTES)) {
  fs.writeFileSync(randomFile, Buffer.concat(await capture(['head', '-c', String(RANDOM_BYTES), '/dev/urandom'])));
}
for (const [name, target, vars, argv] of PARTS.has('ingest') ? [
  ['seq 1 2000000', 'seq', {}, ['seq', '1', '2000000']],
  [`${mb(RANDOM_BYTES)} MB random`, 'file', { FILE: randomFile }, ['cat', randomFile]],
] as const : []) {
  // Ours, COPY and naive take turns, REPS times; each ratio compares neighbours, and the
  // medians are reported (single runs on this machine vary by up to 1.5x).
  const runs: Array<{ o: Awaited<ReturnType<typeof ours>>; c: Awaited<ReturnType<typeof copyBaseline>>; n: Awaited<ReturnType<typeof naive>> }> = [];
  const chunks = await capture([...argv]);
  for (let r = 0; r < REPS; r++) {
    await settle();
    const o = await ours(target, vars);
    await settle();
    const c = await copyBaseline(chunks);
    await settle();
    const n = await naive([...argv]);
    runs.push({ o, c, n });
  }
  const oursMBs = median(runs.map((x) => mb(x.o.bytes) / x.o.seconds));
  const copyMBs = median(runs.map((x) => mb(x.c.bytes) / x.c.seconds));
  const naiveMBs = median(runs.map((x) => mb(x.n.bytes) / x.n.seconds));
  const vsCopy = runs.map((x) => mb(x.o.bytes) / x.o.seconds / (mb(x.c.bytes) / x.c.seconds));
  const vsNaive = runs.map((x) => mb(x.o.bytes) / x.o.seconds / (mb(x.n.bytes) / x.n.seconds));
  const range = (xs: number[], d: number) => `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)})`;
  ingest.push({
    workload: name,
    'bytes (MB)': mb(runs[0].o.bytes).toFixed(1),
    'ours MB/s': oursMBs.toFixed(1),
    'COPY MB/s': copyMBs.toFixed(1),
    'naive MB/s': naiveMBs.toFixed(1),
    'ours/COPY': range(vsCopy, 2),
    'ours/naive': range(vsNaive, 1),
    'naive rows': runs[0].n.rows,
    'our rows': runs[0].o.events,
  });
  const perLine = target === 'seq' ? await naivePerLine(chunks) : null;
  results[target] = { runs, oursMBs, copyMBs, naiveMBs, vsCopy, vsNaive, naivePerLine: perLine };
  const oursSeconds = median(runs.map((x) => x.o.seconds));
  ingest[ingest.length - 1]['naive per line s'] = perLine ? `${perLine.extrapolatedSeconds.toFixed(0)} (${Math.round(perLine.rowsPerSecond)} rows/s)` : '-';
  ingest[ingest.length - 1]['ours/naive per line'] = perLine ? (perLine.extrapolatedSeconds / oursSeconds).toFixed(0) : '-';
}
if (ingest.length) {
  console.log(`\n1. Ingest: stored in Postgres and delivered to one live socket (median of ${REPS} runs; ratios: median (min-max))\n`);
  printTable(ingest);
  console.log('(naive per line: one awaited INSERT per output line, timed on the first 20,000 lines and applied to all of them)');
}

type Pct = { samples: number; p50: number; p99: number; max: number };
let lat: Pct | undefined;
let serverLat: Pct | undefined;
let steadyLat: Pct | undefined;
let settledLat: Pct | undefined;
if (PARTS.has('latency')) {
  // 2. Latency: 50 jobs at 200 lines/s each, one viewer process watching all of them.
  const JOBS = 50;
  const LINES = 2000; // 10 s at 200 lines/s
  // The viewer joins each job as soon as its POST returns, as the console's job page does:
  // lines printed before anyone could have asked for them are not the pipeline's latency.
  const latencyWatcher = await startWatcher(true, JOBS);
  await Promise.all(
    Array.from({ length: JOBS }, async () => {
      const job = await s.api('POST', '/api/jobs', { type: 'make', project: 'bench', target: 'ticker', variables: { LINES: String(LINES) } });
      latencyWatcher.join(job.id);
    }),
  );
  const watched = await latencyWatcher.summary();
  lat = watched.latency;
  serverLat = watched.serverLatency;
  steadyLat = watched.steadyLatency;
  settledLat = watched.settledLatency;
  console.log(`\n2. Latency: ${JOBS} jobs x 200 lines/s, printed -> socket client\n`);
  printTable([
    { measured: 'printed by the job -> viewer', lines: lat.samples, 'p50 ms': lat.p50.toFixed(1), 'p99 ms': lat.p99.toFixed(1), 'max ms': lat.max.toFixed(1) },
    { measured: 'printed -> viewer, after 1st second', lines: steadyLat.samples, 'p50 ms': steadyLat.p50.toFixed(1), 'p99 ms': steadyLat.p99.toFixed(1), 'max ms': steadyLat.max.toFixed(1) },
    { measured: 'printed -> viewer, once all jobs ran 1 s', lines: settledLat.samples, 'p50 ms': settledLat.p50.toFixed(1), 'p99 ms': settledLat.p99.toFixed(1), 'max ms': settledLat.max.toFixed(1) },
    { measured: 'read by the server -> viewer', lines: serverLat.samples, 'p50 ms': serverLat.p50.toFixed(1), 'p99 ms': serverLat.p99.toFixed(1), 'max ms': serverLat.max.toFixed(1) },
  ]);

}

let replay: Record<string, number> | undefined;
if (PARTS.has('replay')) {
  // 3. Replay through the API.
  const big = await s.api('POST', '/api/jobs', { type: 'make', project: 'bench', target: 'lines', variables: { N: '1000000' } });
  for (;;) {
    const j = await s.api('GET', `/api/jobs/${big.id}`);
    if (j.status === 'success') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // The first page as the job console asks for it (256 KiB), and a full-size one (4 MiB):
  // each read five times, alternating, median.
  const timedPage = async (query: string) => {
    const t = performance.now();
    const page = await s.api('GET', `/api/jobs/${big.id}/events?after=0&limit=5000${query}`);
    return { ms: performance.now() - t, events: page.events.length as number };
  };
  const smallReads: Array<{ ms: number; events: number }> = [];
  const fullReads: Array<{ ms: number; events: number }> = [];
  for (let i = 0; i < 5; i++) {
    smallReads.push(await timedPage('&maxBytes=262144'));
    fullReads.push(await timedPage(''));
  }
  const firstPageMs = median(smallReads.map((r) => r.ms));
  const fullFirstPageMs = median(fullReads.map((r) => r.ms));
  const t0 = performance.now();
  let after = 0;
  let replayBytes = 0;
  let pages = 0;
  for (;;) {
    const page = await s.api('GET', `/api/jobs/${big.id}/events?after=${after}&limit=5000`);
    if (!page.events.length) break;
    pages++;
    for (const e of page.events) replayBytes += e.chunk.length;
    after = page.events[page.events.length - 1].seq;
  }
  const replaySeconds = (performance.now() - t0) / 1000;
  replay = { firstPageMs, firstPageEvents: smallReads[0].events, fullFirstPageMs, fullFirstPageEvents: fullReads[0].events, pages, bytes: replayBytes, seconds: replaySeconds, MBs: mb(replayBytes) / replaySeconds, linesPerSecond: 1_000_000 / replaySeconds };
  console.log('\n3. Replay of a 1,000,000-line job through GET /api/jobs/:id/events\n');
  printTable([{ 'first page (256 KiB) ms': firstPageMs.toFixed(1), 'first page (4 MiB) ms': fullFirstPageMs.toFixed(1), 'full replay s': replaySeconds.toFixed(2), 'MB/s': replay.MBs.toFixed(1), 'lines/s': Math.round(replay.linesPerSecond), pages }]);

}
writeResults('jobs', { ingest: results, latency: lat, steadyLatency: steadyLat, settledLatency: settledLat, serverLatency: serverLat, replay });
await s.close();
process.exit(0);
