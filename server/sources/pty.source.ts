import fs from 'node:fs';
import os from 'node:os';
import pty, { type IPty } from 'node-pty';
import type { JobEventSink } from '../events/job-event-sink.ts';
import { processStartTime } from './process-group.ts';
import { screens, type ScreenMessage, type ScreenSnapshot } from './pty-screen.ts';
import { holdSlave, processRunning, signalSession, sessionPids } from './pty-session.ts';

/** After the process exits, output counts as complete once the PTY has been quiet this long. */
const EXIT_QUIET_MS = 60;
/** …but never wait longer than this for it (a background child may keep the PTY open). */
const EXIT_DRAIN_MAX_MS = 2000;
/** Bytes handed to the screen worker but not yet parsed; above it the PTY pauses. */
const SCREEN_HIGH_WATER = 1024 * 1024;
const SCREEN_LOW_WATER = 256 * 1024;
/** While paused, how often to look whether the process exited (so its last output is read in time). */
const PAUSED_EXIT_POLL_MS = 40;
/** Output gathered within one event-loop turn is handed on as one chunk, up to this size. */
const COALESCE_MAX_BYTES = 64 * 1024;

export interface PtyOptions {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  cols: number;
  rows: number;
  sink: JobEventSink;
  /** Lines of scrollback kept for re-attaching browsers. */
  scrollback?: number;
}

export interface PtyExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

type Listener<T extends unknown[]> = (...args: T) => void;

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(os.constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/**
 * One process in a pseudo-terminal. Each output chunk goes, as it is read, to the job's
 * event sink (the recording), to output listeners (attached sockets), and to a headless
 * xterm.js in the screen worker thread that keeps the current screen for re-attaching
 * browsers. The worker handles messages in order, so `atSnapshot` marks a point in the stream: the
 * snapshot holds every chunk read before the call, and listeners get every chunk read
 * after it (a caller queues those until the snapshot is sent): no gap, no repeat.
 *
 * Flow control: `hold(reason)` pauses reading from the PTY (the program then blocks on
 * write) until every reason is released; the sink's and the screen worker's own
 * back-pressure are reasons too. Input is never paused, so Ctrl-C always gets through.
 */
export class PtySource {
  readonly pid: number;
  readonly startTime: string | null;
  /** Resolves once the process exited and every byte it wrote is in the sink and delivered to listeners. */
  readonly finished: Promise<PtyExit>;
  title = '';

  private readonly pty: IPty;
  private readonly screenId: number;
  private screenBroken = false;
  private snapshotId = 0;
  private readonly snapshotWaiters = new Map<number, (snap: ScreenSnapshot) => void>();
  private readonly sink: JobEventSink;
  private readonly holds = new Set<string>();
  private paused = false;
  private exited = false;
  private lastDataAt = 0;
  private screenPending = 0;
  private exitPoll: NodeJS.Timeout | null = null;
  private slaveFd: number | null = null;
  private outputListeners = new Set<Listener<[Buffer]>>();
  private coalesced: Buffer[] = [];
  private coalescedBytes = 0;
  private flushScheduled = false;
  private resizeListeners = new Set<Listener<[number, number]>>();
  private size: { cols: number; rows: number };

  constructor(opts: PtyOptions) {
    this.sink = opts.sink;
    this.size = { cols: opts.cols, rows: opts.rows };
    this.screenId = screens.open(
      { onMessage: (m) => this.onScreenMessage(m), onLost: () => this.screenFailed() },
      { cols: opts.cols, rows: opts.rows, scrollback: opts.scrollback ?? 5000 },
    );
    // node-pty hands out Buffers with `encoding: null` (its typings say string): output is
    // kept byte-exact and UTF-8 sequences split across reads are joined by each consumer.
    this.pty = pty.spawn(opts.argv[0], opts.argv.slice(1), {
      name: 'xterm-256color',
      cols: opts.cols,
      rows: opts.rows,
      cwd: opts.cwd,
      env: opts.env,
      encoding: null,
    } as pty.IPtyForkOptions);
    this.pid = this.pty.pid;
    this.startTime = processStartTime(this.pid);
    this.slaveFd = holdSlave(this.pty);
    opts.sink.meta('resize', Buffer.from(JSON.stringify({ cols: opts.cols, rows: opts.rows })));

    this.pty.onData((data) => this.onData(data as unknown as Buffer));
    this.finished = new Promise<PtyExit>((resolve) => {
      this.pty.onExit(({ exitCode, signal }) => {
        this.exited = true;
        this.stopExitPoll();
        // Read whatever is still queued: nothing may pause the PTY any more.
        this.holds.clear();
        this.applyHolds();
        void this.drainAfterExit().then(() => {
          this.flushOutput();
          this.releaseSlave();
          resolve(signal ? { exitCode: null, signal: SIGNAL_NAMES.get(signal) ?? null } : { exitCode, signal: null });
        });
      });
    });
  }

  get cols() {
    return this.size.cols;
  }

  get rows() {
    return this.size.rows;
  }

  get isExited() {
    return this.exited;
  }

  /** Called with each output chunk as it is read, in stream order. */
  onOutput(fn: Listener<[Buffer]>): () => void {
    this.outputListeners.add(fn);
    return () => this.outputListeners.delete(fn);
  }

  /** Called when the PTY is resized, in order with output. */
  onResize(fn: Listener<[number, number]>): () => void {
    this.resizeListeners.add(fn);
    return () => this.resizeListeners.delete(fn);
  }

  /** Keystrokes or pasted text for the program. */
  write(data: string | Buffer): void {
    if (this.exited) return;
    this.pty.write(data as string);
  }

  /** Resizes the PTY (the program gets SIGWINCH), records it, and resizes the headless screen in stream order. */
  resize(cols: number, rows: number): boolean {
    if (this.exited || (cols === this.size.cols && rows === this.size.rows)) return false;
    this.flushOutput();
    this.size = { cols, rows };
    try {
      this.pty.resize(cols, rows);
    } catch {
      return false; // exited in the meantime
    }
    this.sink.meta('resize', Buffer.from(JSON.stringify({ cols, rows })));
    for (const fn of this.resizeListeners) fn(cols, rows);
    // Output read before the resize was produced for the old size: the screen applies it first.
    if (!this.screenBroken) screens.post({ t: 'resize', id: this.screenId, cols, rows });
    return true;
  }

  /**
   * Calls `fn`, once the headless screen has parsed every chunk read so far, with a
   * snapshot of it. Chunks (and resizes) that listeners see after this call are exactly
   * the ones the snapshot does not hold.
   */
  atSnapshot(fn: (snap: ScreenSnapshot) => void): void {
    this.flushOutput();
    if (this.screenBroken) {
      queueMicrotask(() => fn(this.lostScreen()));
      return;
    }
    const req = ++this.snapshotId;
    this.snapshotWaiters.set(req, fn);
    screens.post({ t: 'snapshot', id: this.screenId, req });
  }

  /** Pauses reading from the PTY until `release(reason)`; several reasons may hold at once. */
  hold(reason: string): void {
    if (this.exited) return;
    this.holds.add(reason);
    this.applyHolds();
  }

  release(reason: string): void {
    if (this.holds.delete(reason)) this.applyHolds();
  }

  isHeld(reason?: string): boolean {
    return reason ? this.holds.has(reason) : this.holds.size > 0;
  }

  /**
   * Ends the terminal: SIGHUP to every process of its session (job-control groups
   * included, which a process-group kill would miss), SIGKILL to what is left after `graceMs`.
   */
  async cancel(graceMs: number): Promise<void> {
    if (this.exited) return;
    const sid = this.pid;
    signalSession(sid, 'SIGHUP');
    signalSession(sid, 'SIGCONT');
    // A paused PTY would keep a program blocked on write; let it run to see the hangup.
    this.holds.clear();
    this.applyHolds();
    const until = Date.now() + graceMs;
    while (Date.now() < until && !this.exited && sessionPids(sid).length) {
      await new Promise((r) => setTimeout(r, 50));
    }
    signalSession(sid, 'SIGKILL');
    try {
      if (!this.exited) process.kill(sid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /**
   * PTY reads arrive in ~4 KiB pieces. Under load many arrive in one event-loop turn; they
   * are handed on together at the end of the turn, so the sink, every socket and the screen
   * worker see one chunk instead of dozens (per-chunk overhead, not bytes, is what costs).
   * A lone keystroke echo still goes out in the same turn.
   */
  private onData(data: Buffer) {
    this.lastDataAt = Date.now();
    this.coalesced.push(data);
    this.coalescedBytes += data.length;
    if (this.coalescedBytes >= COALESCE_MAX_BYTES) this.flushOutput();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushOutput());
    }
  }

  /** Hands on what onData gathered. Called before anything that must stay in order with output. */
  private flushOutput() {
    this.flushScheduled = false;
    if (!this.coalesced.length) return;
    const data = this.coalesced.length === 1 ? this.coalesced[0] : Buffer.concat(this.coalesced, this.coalescedBytes);
    this.coalesced = [];
    this.coalescedBytes = 0;
    this.deliver(data);
  }

  private deliver(data: Buffer) {
    if (!this.sink.write('pty', data) && !this.exited && !this.holds.has('sink')) {
      this.hold('sink');
      void this.sink.whenDrained().then(() => this.release('sink'));
    }
    for (const fn of this.outputListeners) fn(data);
    if (this.screenBroken) return;
    this.screenPending += data.length;
    if (this.screenPending > SCREEN_HIGH_WATER) this.hold('screen');
    // Copied, not transferred: the same bytes went to the sink and the sockets.
    screens.post({ t: 'data', id: this.screenId, data });
  }

  private onScreenMessage(m: ScreenMessage) {
    if (m.t === 'parsed') {
      this.screenPending = Math.max(0, this.screenPending - m.bytes);
      if (this.screenPending < SCREEN_LOW_WATER) this.release('screen');
    } else if (m.t === 'title') {
      this.title = m.title;
    } else if (m.t === 'snapshot') {
      const fn = this.snapshotWaiters.get(m.req);
      this.snapshotWaiters.delete(m.req);
      fn?.({ data: m.data, cols: m.cols, rows: m.rows });
    }
  }

  /** The screen worker died: attaches still work, with a blank screen and a note. */
  private screenFailed() {
    if (this.screenBroken) return;
    this.screenBroken = true;
    this.screenPending = 0;
    this.release('screen');
    for (const fn of this.snapshotWaiters.values()) fn(this.lostScreen());
    this.snapshotWaiters.clear();
  }

  private lostScreen(): ScreenSnapshot {
    return { data: '\r\n[the screen could not be restored; new output follows]\r\n', cols: this.size.cols, rows: this.size.rows };
  }

  private applyHolds() {
    const want = this.holds.size > 0 && !this.exited;
    if (want === this.paused) return;
    this.paused = want;
    if (want) {
      this.pty.pause();
      // node-pty stops waiting for the last output 200 ms after the process exits, and a
      // paused PTY is not read: notice the exit early and resume so nothing is lost.
      this.exitPoll = setInterval(() => {
        if (!processRunning(this.pid)) {
          this.holds.clear();
          this.applyHolds();
        }
      }, PAUSED_EXIT_POLL_MS);
      this.exitPoll.unref();
    } else {
      this.stopExitPoll();
      this.pty.resume();
    }
  }

  private stopExitPoll() {
    if (this.exitPoll) clearInterval(this.exitPoll);
    this.exitPoll = null;
  }

  /** node-pty may report the exit before the last data event: wait for a quiet PTY. */
  private async drainAfterExit() {
    const exitAt = Date.now();
    this.lastDataAt = Math.max(this.lastDataAt, exitAt);
    while (Date.now() - this.lastDataAt < EXIT_QUIET_MS && Date.now() - exitAt < EXIT_DRAIN_MAX_MS) {
      await new Promise((r) => setTimeout(r, EXIT_QUIET_MS / 3));
    }
  }

  private releaseSlave() {
    if (this.slaveFd === null) return;
    try {
      fs.closeSync(this.slaveFd);
    } catch {
      // already closed
    }
    this.slaveFd = null;
  }

  /** Frees the server-side screen; call after `finished`. */
  dispose() {
    this.stopExitPoll();
    this.releaseSlave();
    this.outputListeners.clear();
    this.resizeListeners.clear();
    this.snapshotWaiters.clear();
    if (!this.screenBroken) screens.close(this.screenId);
    this.screenBroken = true;
  }
}
