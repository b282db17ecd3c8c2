import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import headless from '@xterm/headless';
import { io as connect, type Socket } from 'socket.io-client';
import type { Browser } from '@playwright/test';
import {
  buildUiIfNeeded, latencyRow, measureLatency as measureEcho, printTable, rssSampler, sleep, startServerProcess, writeResults,
  type Latency, type Throughput,
} from './lib.ts';
import { FLOW_ACK_EVERY } from '../src/lib/shared/terminals.ts';
import { catInTab, launchChromium, oursTerminalPage, wettyTerminalPage, type TabRun } from './browser-terminal.ts';
import { ensureWetty, startWetty, WETTY_VERSION } from './wetty.ts';

/**
 * `npm run bench:terminal`: browser terminals, ours against wetty (the npm package, installed
 * on first use into bench/.tools/wetty: see wetty.ts).
 * 1. keystroke echo latency: 500 single keystrokes into `cat` (tty in raw mode, so cat
 *    itself echoes each byte), timed from the client's emit to the echo arriving at a
 *    headless socket.io client;
 * 2. output throughput: `cat` of a 50 MB file through PTY → Socket.io → a client that
 *    acknowledges like each app's page does (ours: every 32 KiB; wetty: every 256 KiB), once
 *    acking on receipt (the server path's capacity) and once after parsing in a headless
 *    xterm.js (what a terminal emulator can absorb);
 * 3. in a browser tab: the same `cat` typed into each app's own terminal page in Chromium,
 *    timed from the Enter keypress until the last line is drawn on screen (xterm.js with
 *    the renderer each app picks; see browser-terminal.ts), with the tab's renderer
 *    process's peak RSS. Ours needs the UI build: it is built first when it is missing or
 *    older than its sources.
 * with the server process's peak RSS during each run. Both servers run as their own
 * processes on loopback; ours also stores every byte in Postgres (the recording).
 * BENCH_SHOTS_DIR=<dir> leaves a screenshot of each tab at the end of its run there
 * (render-ours.png, render-wetty.png).
 *
 * Our server runs compiled, as `npm start` runs it (bench/server-role.ts).
 */
const FILE_MB = Number(process.env.BENCH_TERMINAL_MB ?? 50);
const KEYSTROKES = Number(process.env.BENCH_KEYSTROKES ?? 500);
/** The login shell our server starts in a terminal (TERMINAL_SHELL, else its default); wetty's tab runs the same. */
const SHELL = `${process.env.TERMINAL_SHELL || process.env.SHELL || '/bin/bash'} -l`;
/** Latency of `KEYSTROKES` single keystrokes after a warm-up. */
const measureLatency = (send: (ch: string) => void, listen: (fn: (text: string) => void) => void) => measureEcho(send, listen, KEYSTROKES);
/** Our server in a process of its own, so client work does not share its event loop; `serveUi` for the browser tab. */
const startOurs = (serveUi = false) => startServerProcess({}, { serveUi });
/** SIGTERM, so the server stops its embedded Postgres and removes its directory. */
async function stopOurs(ours: Awaited<ReturnType<typeof startOurs>>) {
  ours.child.kill('SIGTERM');
  await new Promise((r) => ours.child.once('exit', r));
}
/** Where a tab's end-of-run screenshot goes, when asked for. */
const shotPath = (app: string) => (process.env.BENCH_SHOTS_DIR ? path.join(process.env.BENCH_SHOTS_DIR, `render-${app}.png`) : undefined);

function makeFile(): string {
  const file = path.join(os.tmpdir(), `vmo-bench-terminal-${FILE_MB}mb.txt`);
  if (!fs.existsSync(file) || fs.statSync(file).size !== FILE_MB * 1024 * 1024) {
    const line = 'the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ\n';
    const block = Buffer.from(line.repeat(Math.ceil((1024 * 1024) / line.length))).subarray(0, 1024 * 1024);
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < FILE_MB; i++) fs.writeSync(fd, block);
    fs.closeSync(fd);
  }
  return file;
}

/** Acknowledges output the way a terminal does: after it is parsed (or at once), in `every`-byte steps. */
function acker(every: number, parse: boolean, send: (n: number) => void) {
  const term = parse ? new headless.Terminal({ cols: 80, rows: 24, scrollback: 1000, allowProposedApi: true }) : null;
  let pending = 0;
  const done = (n: number) => {
    pending += n;
    while (pending >= every) {
      pending -= every;
      send(every);
    }
  };
  return {
    take(data: string | Uint8Array) {
      const n = data.length;
      if (term) term.write(data, () => done(n));
      else done(n);
    },
    /** Resolves once everything taken so far is parsed. */
    flush: () => new Promise<void>((r) => (term ? term.write('', r) : r())),
    dispose: () => term?.dispose(),
  };
}

// ---------------------------------------------------------------- ours

async function ourTerminal(base: string, cookie: string) {
  const res = await fetch(`${base}/api/jobs`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'terminal', cols: 80, rows: 24 }),
  });
  const job = await res.json();
  if (res.status !== 201) throw new Error(`could not open a terminal: ${JSON.stringify(job)}`);
  const socket: Socket = connect(`${base}/terminals`, { transports: ['websocket'], extraHeaders: { cookie }, reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return { job, socket };
}

/** Attaches, runs `command` in the shell and waits until the shell has been quiet for a moment. */
async function ourAttach(base: string, cookie: string, command: string, parse: boolean) {
  const { job, socket } = await ourTerminal(base, cookie);
  const ack = acker(FLOW_ACK_EVERY, parse, (bytes) => socket.emit('ack', { jobId: job.id, bytes }));
  const listeners: Array<(data: Buffer) => void> = [];
  let last = performance.now();
  socket.on('output', (m: { jobId: string; data: Buffer }) => {
    last = performance.now();
    ack.take(m.data);
    for (const fn of listeners) fn(m.data);
  });
  const res = await socket.timeout(10_000).emitWithAck('attach', { jobId: job.id, cols: 80, rows: 24 });
  if (!res.ok) throw new Error(JSON.stringify(res));
  await sleep(300);
  socket.emit('input', { jobId: job.id, data: command });
  while (performance.now() - last < 400) await sleep(50);
  return { job, socket, ack, listeners };
}

async function oursLatency(base: string, cookie: string, pid: number): Promise<Latency> {
  const t = await ourAttach(base, cookie, 'stty raw -echo; exec cat\r', false);
  const rss = rssSampler(pid);
  const samples = await measureLatency(
    (ch) => t.socket.emit('input', { jobId: t.job.id, data: ch }),
    (fn) => t.listeners.push((d) => fn(d.toString('latin1'))),
  );
  const peak = rss.stop();
  t.socket.emit('input', { jobId: t.job.id, data: '\x04' });
  t.socket.close();
  return latencyRow(samples, peak);
}

async function oursThroughput(base: string, cookie: string, pid: number, file: string, parse: boolean): Promise<Throughput> {
  const t = await ourAttach(base, cookie, 'stty -echo\r', parse);
  let received = 0;
  let first = 0;
  let last = 0;
  t.listeners.push((d) => {
    first ||= performance.now();
    last = performance.now();
    received += d.length;
  });
  const exited = new Promise<void>((resolve) => t.socket.on('exit', () => resolve()));
  const rss = rssSampler(pid);
  t.socket.emit('input', { jobId: t.job.id, data: `cat ${file}; exit\r` });
  await exited;
  await t.ack.flush();
  // First to last byte (then the client's parse backlog): the same window as wetty's.
  const seconds = (Math.max(last, parse ? performance.now() : 0) - first) / 1000;
  const peak = rss.stop();
  t.socket.close();
  t.ack.dispose();
  const mb = received / 1024 / 1024;
  return { mb: +mb.toFixed(1), seconds: +seconds.toFixed(2), mbPerS: +(mb / seconds).toFixed(1), peakRssMb: peak };
}

// ---------------------------------------------------------------- wetty

async function wettySession(base: string, parse: boolean) {
  const socket: Socket = connect(base, { transports: ['websocket'], reconnection: false });
  const ack = acker(262_144, parse, (bytes) => socket.emit('commit', bytes));
  const listeners: Array<(data: string) => void> = [];
  socket.on('data', (d: string) => {
    ack.take(d);
    for (const fn of listeners) fn(d);
  });
  const login = new Promise<void>((resolve) => socket.once('login', () => resolve()));
  const logout = new Promise<void>((resolve) => socket.once('logout', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  socket.emit('resize', { cols: 80, rows: 24 });
  await login;
  return { socket, ack, listeners, logout };
}

async function wettyLatency(main: string): Promise<Latency> {
  const w = await startWetty(main, `sh -c 'stty raw -echo; exec cat'`);
  try {
    const s = await wettySession(w.base, false);
    await sleep(500);
    const rss = rssSampler(w.child.pid!);
    const samples = await measureLatency((ch) => s.socket.emit('input', ch), (fn) => s.listeners.push(fn));
    const peak = rss.stop();
    s.socket.close();
    return latencyRow(samples, peak);
  } finally {
    w.child.kill();
  }
}

async function wettyThroughput(main: string, file: string, parse: boolean): Promise<Throughput> {
  const w = await startWetty(main, `sh -c 'stty -echo; sleep 0.5; cat ${file}'`);
  try {
    const rss = rssSampler(w.child.pid!);
    const s = await wettySession(w.base, parse);
    let received = 0;
    let first = 0;
    let last = 0;
    s.listeners.push((d) => {
      first ||= performance.now();
      last = performance.now();
      received += Buffer.byteLength(d);
    });
    await s.logout;
    await s.ack.flush();
    const seconds = (Math.max(last, parse ? performance.now() : 0) - first) / 1000;
    const peak = rss.stop();
    s.socket.close();
    s.ack.dispose();
    const mb = received / 1024 / 1024;
    return { mb: +mb.toFixed(1), seconds: +seconds.toFixed(2), mbPerS: +(mb / seconds).toFixed(1), peakRssMb: peak };
  } finally {
    w.child.kill();
  }
}

// ---------------------------------------------------------------- browser tabs

/** Our terminal page in Chromium, against a server of its own that also serves the UI. */
async function oursInTab(browser: Browser, file: string): Promise<TabRun> {
  const ours = await startOurs(true);
  try {
    return await catInTab(browser, oursTerminalPage(ours.base, ours.cookie), { file, mb: FILE_MB, serverPid: ours.child.pid!, shot: shotPath('ours') });
  } finally {
    await stopOurs(ours);
  }
}

/** wetty's page in Chromium, wetty running the same login shell as ours. */
async function wettyInTab(browser: Browser, main: string, file: string): Promise<TabRun> {
  const w = await startWetty(main, SHELL);
  try {
    return await catInTab(browser, wettyTerminalPage(w.base), { file, mb: FILE_MB, serverPid: w.child.pid!, shot: shotPath('wetty') });
  } finally {
    w.child.kill();
  }
}

const TAB_MEASURE = `Chromium tab: cat ${FILE_MB} MB until the last line is on screen`;

/** A tab run as a row of the table (or why it did not run), and as its JSON entry. */
async function tabRow(server: string, browser: Browser | { skipped: string }, run: (b: Browser) => Promise<TabRun>) {
  if ('skipped' in browser) {
    return { json: { skipped: browser.skipped }, row: { server, measure: TAB_MEASURE, result: `not run: ${browser.skipped}`, 'peak RSS MB': '-' } };
  }
  try {
    const t = await run(browser);
    const tab = t.tabPeakRssMb === null ? '' : `; tab renderer peak RSS ${t.tabPeakRssMb} MB`;
    return {
      json: t,
      row: { server, measure: `${TAB_MEASURE} (${t.renderer} renderer, ${t.cols}×${t.rows})`, result: `${t.seconds} s (${t.mbPerS} MB/s)${tab}`, 'peak RSS MB': t.serverPeakRssMb },
    };
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    return { json: { failed: why }, row: { server, measure: TAB_MEASURE, result: `failed: ${why}`, 'peak RSS MB': '-' }, failed: true };
  }
}

// ---------------------------------------------------------------- run

const file = makeFile();
const results: Record<string, unknown> = { fileMb: FILE_MB, keystrokes: KEYSTROKES };
const rows: Array<Record<string, string | number>> = [];

/**
 * BENCH_TERMINAL_ONLY=ours-headless: only our echo and `cat` rows, 20 s instead of
 * several, for before/after runs of a server change (written to terminal-ours-headless.json).
 */
const OURS_HEADLESS_ONLY = process.env.BENCH_TERMINAL_ONLY === 'ours-headless';

// Installed and built (first run only, or after a change) before anything is measured, so
// neither competes with a run.
const wetty = OURS_HEADLESS_ONLY ? null : await ensureWetty();
const ui = OURS_HEADLESS_ONLY ? null : buildUiIfNeeded();

const ours = await startOurs();
try {
  const pid = ours.child.pid!;
  const lat = await oursLatency(ours.base, ours.cookie, pid);
  const raw = await oursThroughput(ours.base, ours.cookie, pid, file, false);
  const parsed = await oursThroughput(ours.base, ours.cookie, pid, file, true);
  results.ours = { latency: lat, throughputAckOnReceipt: raw, throughputParsed: parsed };
  rows.push(
    { server: 'vm-orchestrator', measure: 'keystroke echo', result: `p50 ${lat.p50} ms, p99 ${lat.p99} ms (max ${lat.max})`, 'peak RSS MB': lat.peakRssMb },
    { server: 'vm-orchestrator', measure: `cat ${FILE_MB} MB, ack on receipt`, result: `${raw.mbPerS} MB/s (${raw.seconds} s)`, 'peak RSS MB': raw.peakRssMb },
    { server: 'vm-orchestrator', measure: `cat ${FILE_MB} MB, client parses (xterm)`, result: `${parsed.mbPerS} MB/s (${parsed.seconds} s)`, 'peak RSS MB': parsed.peakRssMb },
  );
} finally {
  await stopOurs(ours);
}

if (!wetty || !ui) {
  printTable(rows);
  writeResults('terminal-ours-headless', results);
  process.exit(0);
}

// Started after the headless runs, so an idle browser does not sit beside them.
const browser = 'skipped' in ui ? ui : await launchChromium();
const oursTab = await tabRow('vm-orchestrator', browser, (b) => oursInTab(b, file));
results.ours = { ...results.ours as object, browserTab: oursTab.json };
rows.push(oursTab.row);

if ('skipped' in wetty) {
  results.wetty = { skipped: wetty.skipped };
  rows.push(
    { server: 'wetty', measure: '-', result: `not run: ${wetty.skipped}`, 'peak RSS MB': '-' },
    { server: 'wetty', measure: TAB_MEASURE, result: `not run: ${wetty.skipped}`, 'peak RSS MB': '-' },
  );
} else {
  try {
    const lat = await wettyLatency(wetty.main);
    const raw = await wettyThroughput(wetty.main, file, false);
    const parsed = await wettyThroughput(wetty.main, file, true);
    results.wetty = { version: WETTY_VERSION, latency: lat, throughputAckOnReceipt: raw, throughputParsed: parsed };
    rows.push(
      { server: 'wetty', measure: 'keystroke echo', result: `p50 ${lat.p50} ms, p99 ${lat.p99} ms (max ${lat.max})`, 'peak RSS MB': lat.peakRssMb },
      { server: 'wetty', measure: `cat ${FILE_MB} MB, ack on receipt`, result: `${raw.mbPerS} MB/s (${raw.seconds} s)`, 'peak RSS MB': raw.peakRssMb },
      { server: 'wetty', measure: `cat ${FILE_MB} MB, client parses (xterm)`, result: `${parsed.mbPerS} MB/s (${parsed.seconds} s)`, 'peak RSS MB': parsed.peakRssMb },
    );
  } catch (err) {
    const why = (err as Error).message;
    results.wetty = { failed: why };
    rows.push({ server: 'wetty', measure: '-', result: `failed: ${why}`, 'peak RSS MB': '-' });
  }
  const wettyTab = await tabRow('wetty', browser, (b) => wettyInTab(b, wetty.main, file));
  results.wetty = { ...results.wetty as object, browserTab: wettyTab.json };
  rows.push(wettyTab.row);
}
if (!('skipped' in browser)) await browser.close();

console.log(`\nTerminals: ${KEYSTROKES} keystrokes into cat; cat of a ${FILE_MB} MB file (${os.cpus().length} cores)\n`);
printTable(rows);
console.log('\nours stores every byte in Postgres as well (the recording); wetty keeps nothing.');
writeResults('terminal', results);
// Our tab never showing the last line is a failure of the run, not a number (wetty's
// failures only fill its rows, as before: they say nothing about ours).
process.exit(oursTab.failed ? 1 : 0);
