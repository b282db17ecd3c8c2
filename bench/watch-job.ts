import readline from 'node:readline';
import { io } from 'socket.io-client';

/**
 * A live viewer in its own process, as a browser would be: connects, prints "ready", then
 * reads job ids from stdin (space separated, on one line or, with WATCH_JOBS=n, on as many
 * lines as it takes to name n jobs), joins each from seq 0 as it reads it and prints a
 * summary when every job:done has arrived. Lines that start with a millisecond timestamp
 * are also measured for print-to-viewer latency.
 */
const [base, cookie] = process.argv.slice(2);
const encoding = process.env.WATCH_ENCODING ?? 'binary';
const measureLatency = process.env.WATCH_LATENCY === '1';
const socket = io(`${base}/jobs`, { transports: ['websocket'], extraHeaders: { cookie }, reconnection: false });
const last = new Map<string, number>();
const latencies: number[] = [];
/** From the server reading the output to this viewer receiving it. */
const serverLatencies: number[] = [];
/** Lines after each job's first second. */
const steadyLatencies: number[] = [];
/** Every line as [printed at, latency], and each job's first line: for the lines after the start. */
const printed: Array<[number, number]> = [];
const firstPrinted = new Map<string, number>();
let events = 0;
let bytes = 0;
let pending = 0;
/** Jobs to watch in all: WATCH_JOBS when ids come one line at a time, else the first line's. */
let expected = Number(process.env.WATCH_JOBS ?? 0);
let joined = 0;
socket.on('job:log', (m: { jobId: string; events: Array<{ seq: number; stream: string; chunk: Buffer | string; at: string }> }) => {
  const now = performance.timeOrigin + performance.now();
  for (const e of m.events) {
    const prev = last.get(m.jobId) ?? 0;
    if (e.seq !== prev + 1) {
      process.stderr.write(`gap or duplicate in ${m.jobId}: ${prev} then ${e.seq}\n`);
      process.exit(2);
    }
    last.set(m.jobId, e.seq);
    events++;
    bytes += e.chunk.length;
    if (!measureLatency || e.stream !== 'stdout') continue;
    serverLatencies.push(now - Date.parse(e.at));
    for (const line of e.chunk.toString().split('\n')) {
      const [stamp, index] = line.split(' ');
      const t = Number(stamp);
      if (t > 1e12) {
        latencies.push(now - t);
        if (Number(index) > 200) steadyLatencies.push(now - t);
        printed.push([t, now - t]);
        if (!firstPrinted.has(m.jobId)) firstPrinted.set(m.jobId, t);
      }
    }
  }
});
socket.on('job:done', () => {
  if (--pending > 0 || joined < expected) return;
  const summary = (xs: number[]) => {
    xs.sort((a, b) => a - b);
    const pct = (p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? null;
    return { samples: xs.length, p50: pct(50), p99: pct(99), max: xs.at(-1) ?? null };
  };
  // Once every job has printed for a second: the start of the last job is over.
  const settledFrom = Math.max(...firstPrinted.values()) + 1000;
  const settledLatency = summary(printed.filter(([t]) => t >= settledFrom).map(([, l]) => l));
  process.stdout.write(`${JSON.stringify({ events, bytes, latency: summary(latencies), steadyLatency: summary(steadyLatencies), settledLatency, serverLatency: summary(serverLatencies) })}\n`);
  process.exit(0);
});
socket.on('disconnect', (reason) => {
  process.stderr.write(`watcher disconnected: ${reason}\n`);
  process.exit(1);
});
socket.on('connect', () => {
  process.stdout.write('ready\n');
  readline.createInterface({ input: process.stdin }).on('line', (ids) => {
    const jobIds = ids.trim().split(/\s+/).filter(Boolean);
    expected ||= jobIds.length;
    pending += jobIds.length;
    joined += jobIds.length;
    for (const jobId of jobIds) socket.emit('join-job', { jobId, after: 0, encoding }, () => {});
  });
});
