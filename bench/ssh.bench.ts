import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import { JobEventSink } from '../server/events/job-event-sink.ts';
import type { HostRepository } from '../server/inventory/host.repository.ts';
import { defaultSshConfigContext } from '../server/inventory/ssh-config.ts';
import { createLogger } from '../server/platform/logger.ts';
import { HostKeyTrust } from '../server/ssh/host-key-trust.ts';
import { commandRun } from '../server/ssh/log-presets.ts';
import { SshConnector } from '../server/ssh/ssh-connector.ts';
import { runRemote } from '../server/ssh/ssh-exec.source.ts';
import { KeyStore } from '../server/ssh/ssh-keys.ts';
import { planRoute } from '../server/ssh/ssh-plan.ts';
import { SshPool } from '../server/ssh/ssh-pool.ts';
import { hostBlock, remoteFixture } from '../tests/helpers/remote-hosts.ts';
import { startSshd } from '../tests/helpers/sshd.ts';
import {
  latencyRow, measureLatency, printTable, rssSampler, sleep, startServerProcess, writeResults, type Latency,
} from './lib.ts';

/**
 * `npm run bench:ssh`: remote hosts through the console against OpenSSH's own client, on
 * one loopback sshd in the same run.
 * 1. throughput: `cat` of a 100 MB file: our `ssh` job (every byte stored in Postgres and
 *    delivered to a Socket.io client) against `ssh host cat file > /dev/null`, and our SSH
 *    side alone (connector, pool, exec source, job sink) with the database write skipped,
 *    which separates the transport from storage;
 * 2. keystroke echo in an SSH shell against a local terminal's (`stty raw -echo; cat`).
 * Each throughput side runs RUNS times, interleaved; the table shows medians and ranges.
 *
 * Our server runs compiled, in a process of its own, as `npm start` runs it (bench/server-role.ts).
 */
const FILE_MB = Number(process.env.BENCH_SSH_MB ?? 100);
const RUNS = Number(process.env.BENCH_SSH_RUNS ?? 3);
const KEYSTROKES = Number(process.env.BENCH_KEYSTROKES ?? 300);


/**
 * Two files: a web server's access log (varied text lines, as a log stream carries; Postgres
 * compresses it) and random bytes (incompressible: what storage costs without compression).
 */
function makeFile(kind: 'log' | 'random'): string {
  const file = path.join(os.tmpdir(), `vmo-bench-ssh-${FILE_MB}mb.${kind}`);
  const size = FILE_MB * 1024 * 1024;
  if (fs.existsSync(file) && fs.statSync(file).size === size) return file;
  const fd = fs.openSync(file, 'w');
  for (let written = 0, i = 0; written < size; ) {
    let block: Buffer;
    if (kind === 'random') block = crypto.randomBytes(1024 * 1024);
    else {
      const lines: string[] = [];
      for (let n = 0; n < 1024 * 1024; i++) {
        const l = `2026-11-22T04:${String(i % 60).padStart(2, '0')}:${String((i * 7) % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z ` +
          `web-${i % 9} nginx[${1000 + (i % 777)}]: 10.0.${i % 256}.${(i * 13) % 256} "GET /api/v1/items/${(i * 2654435761) % 100003} HTTP/1.1" ` +
          `${[200, 200, 201, 304, 404, 500][i % 6]} ${(i * 31) % 20000} ${((i % 997) / 1000).toFixed(3)}\n`;
        lines.push(l);
        n += l.length;
      }
      block = Buffer.from(lines.join(''));
    }
    block = block.subarray(0, Math.min(block.length, size - written));
    fs.writeSync(fd, block);
    written += block.length;
  }
  fs.closeSync(fd);
  return file;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function post(base: string, cookie: string, body: unknown) {
  const res = await fetch(`${base}/api/jobs`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  if (res.status !== 201) throw new Error(`could not start a job: ${JSON.stringify(json)}`);
  return json as { id: string };
}

function socketFor(base: string, cookie: string, ns: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(`${base}${ns}`, { transports: ['websocket'], extraHeaders: { cookie }, reconnection: false });
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

/** Our side: an ssh job running `cat`, watched from seq 0 by a socket client until job:done. */
async function oursCat(base: string, cookie: string, pid: number, file: string) {
  const socket = await socketFor(base, cookie, '/jobs');
  let bytes = 0;
  const rss = rssSampler(pid);
  const t0 = performance.now();
  const job = await post(base, cookie, { type: 'ssh', host: 'bench/box', command: `cat ${file}` });
  const done = new Promise<string>((resolve) => socket.on('job:done', (m: { jobId: string; status: string }) => m.jobId === job.id && resolve(m.status)));
  socket.on('job:log', (m: { jobId: string; events: Array<{ stream: string; chunk: Buffer }> }) => {
    if (m.jobId !== job.id) return;
    for (const e of m.events) if (e.stream === 'stdout') bytes += e.chunk.length;
  });
  socket.emit('join-job', { jobId: job.id, after: 0, encoding: 'binary' }, () => {});
  const status = await done;
  const seconds = (performance.now() - t0) / 1000;
  socket.close();
  if (status !== 'success' || bytes !== FILE_MB * 1024 * 1024) throw new Error(`ssh job ${status} after ${bytes} bytes`);
  return { seconds, peakRssMb: rss.stop() };
}

/** OpenSSH: `ssh host cat file > /dev/null` with the same config, key and server. */
async function opensshCat(config: string, file: string) {
  const devnull = fs.openSync('/dev/null', 'w');
  const t0 = performance.now();
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('ssh', ['-F', config, '-o', 'BatchMode=yes', 'box', 'cat', file], { stdio: ['ignore', devnull, 'inherit'] });
    child.once('exit', resolve);
  });
  fs.closeSync(devnull);
  if (code !== 0) throw new Error(`ssh exited ${code}`);
  return { seconds: (performance.now() - t0) / 1000 };
}

/**
 * The SSH side alone: our connector, pool and exec source feeding a job sink whose database
 * write is skipped (resolves at once). Shows what the transport can do, apart from storage.
 */
async function transportOnly(config: string, file: string) {
  const noStore = { keysFor: async () => [], notePresented: async () => ({}) } as unknown as HostRepository;
  const connector = new SshConnector(new HostKeyTrust(noStore), new KeyStore(), { connectTimeoutMs: 10_000, keepaliveMs: 15_000 });
  const pool = new SshPool(connector, { idleMs: 1000, maxLeases: 8 }, createLogger('silent'));
  const plan = await planRoute('box', defaultSshConfigContext(config));
  let bytes = 0;
  const sink = new JobEventSink({
    jobId: 'transport', insertBatch: async (_id, events) => {
      for (const e of events) if (e.stream === 'stdout') bytes += e.chunk.length;
    },
    publish: () => {}, log: createLogger('silent'),
  });
  (await pool.lease(plan)).release(); // connect first: the other rows time an open pooled connection too
  const t0 = performance.now();
  const run = runRemote({ pool, plan, sink, start: () => commandRun(`cat ${file}`), resumable: false, reconnect: { attempts: 0, baseDelayMs: 0, maxDelayMs: 0 } });
  await run.finished;
  await sink.close();
  const seconds = (performance.now() - t0) / 1000;
  pool.closeAll();
  if (bytes !== FILE_MB * 1024 * 1024) throw new Error(`transport read ${bytes} bytes`);
  return { seconds };
}

/** Keystroke echo through a terminal job (`host` set: an SSH shell). */
async function terminalEcho(base: string, cookie: string, pid: number, host?: string): Promise<Latency> {
  const job = await post(base, cookie, { type: 'terminal', cols: 80, rows: 24, ...(host ? { host } : {}) });
  const socket = await socketFor(base, cookie, '/terminals');
  const listeners: Array<(t: string) => void> = [];
  let last = performance.now();
  socket.on('output', (m: { jobId: string; data: Buffer }) => {
    last = performance.now();
    for (const fn of listeners) fn(Buffer.from(m.data).toString('latin1'));
  });
  const ack = await socket.timeout(15_000).emitWithAck('attach', { jobId: job.id, cols: 80, rows: 24 });
  if (!ack.ok) throw new Error(JSON.stringify(ack));
  await sleep(500);
  socket.emit('input', { jobId: job.id, data: 'stty raw -echo; exec cat\r' });
  while (performance.now() - last < 400) await sleep(50);
  const rss = rssSampler(pid);
  const samples = await measureLatency((ch) => socket.emit('input', { jobId: job.id, data: ch }), (fn) => listeners.push(fn), KEYSTROKES);
  const peak = rss.stop();
  socket.emit('input', { jobId: job.id, data: '\x04' });
  socket.close();
  return latencyRow(samples, peak);
}

// ---------------------------------------------------------------- run

const files = { log: makeFile('log'), random: makeFile('random') };
const sshd = await startSshd();
const fx = remoteFixture();
fx.writeSshConfig(hostBlock('box', sshd, fx));
fx.trust(sshd.knownHostsLine());
fx.writeEnvironment('bench', 'vms:\n  box: { host: box }\n');
const ours = await startServerProcess({ ENVIRONMENTS_DIR: fx.envDir, SSH_CONFIG: fx.sshConfig });
const results: Record<string, unknown> = { fileMb: FILE_MB, runs: RUNS, keystrokes: KEYSTROKES };
const rows: Array<Record<string, string | number>> = [];
try {
  const pid = ours.child.pid!;
  const mbps = (s: number) => +(FILE_MB / s).toFixed(1);
  const range = (xs: number[]) => `${Math.min(...xs)}–${Math.max(...xs)}`;
  for (const [kind, file] of Object.entries(files)) {
    const oursRuns: Array<{ seconds: number; peakRssMb: number }> = [];
    const sshRuns: Array<{ seconds: number }> = [];
    const transportRuns: Array<{ seconds: number }> = [];
    for (let i = 0; i < RUNS; i++) {
      sshRuns.push(await opensshCat(fx.sshConfig, file));
      oursRuns.push(await oursCat(ours.base, ours.cookie, pid, file));
      transportRuns.push(await transportOnly(fx.sshConfig, file));
    }
    const transportMbps = transportRuns.map((r) => mbps(r.seconds));
    const oursMbps = oursRuns.map((r) => mbps(r.seconds));
    const sshMbps = sshRuns.map((r) => mbps(r.seconds));
    const ratio = +(median(oursMbps) / median(sshMbps)).toFixed(2);
    const peak = Math.max(...oursRuns.map((r) => r.peakRssMb));
    const transportRatio = +(median(transportMbps) / median(sshMbps)).toFixed(2);
    results[`throughput_${kind}`] = { oursMbPerS: oursMbps, opensshMbPerS: sshMbps, ratio, transportMbPerS: transportMbps, transportRatio, peakRssMb: peak };
    rows.push(
      { measure: `cat ${FILE_MB} MB ${kind}, OpenSSH ssh > /dev/null`, result: `${median(sshMbps)} MB/s (${range(sshMbps)})`, 'vs OpenSSH': '1.00×', 'server peak RSS MB': '-' },
      { measure: `cat ${FILE_MB} MB ${kind}, ssh job: stored + to a socket`, result: `${median(oursMbps)} MB/s (${range(oursMbps)})`, 'vs OpenSSH': `${ratio}×`, 'server peak RSS MB': peak },
      { measure: `cat ${FILE_MB} MB ${kind}, SSH into the job sink, storage skipped`, result: `${median(transportMbps)} MB/s (${range(transportMbps)})`, 'vs OpenSSH': `${transportRatio}×`, 'server peak RSS MB': '-' },
    );
  }

  const local = await terminalEcho(ours.base, ours.cookie, pid);
  const remote = await terminalEcho(ours.base, ours.cookie, pid, 'bench/box');
  results.echo = { local, ssh: remote };
  rows.push(
    { measure: 'keystroke echo, local terminal', result: `p50 ${local.p50} ms, p99 ${local.p99} ms`, 'vs OpenSSH': '-', 'server peak RSS MB': local.peakRssMb },
    { measure: 'keystroke echo, SSH shell', result: `p50 ${remote.p50} ms, p99 ${remote.p99} ms`, 'vs OpenSSH': '-', 'server peak RSS MB': remote.peakRssMb },
  );
} finally {
  ours.child.kill('SIGTERM');
  await new Promise((r) => ours.child.once('exit', r));
  await sshd.stop();
  fx.cleanup();
}

console.log(`\nRemote hosts: one loopback sshd, ${os.cpus().length} cores, ${RUNS} interleaved runs (median and range)\n`);
printTable(rows);
writeResults('ssh', results);
process.exit(0);
