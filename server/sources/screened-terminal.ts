import type { JobEventSink } from '../events/job-event-sink.ts';
import { screens, type ScreenMessage, type ScreenSnapshot } from './pty-screen.ts';
import { ScreenBacklog } from './screen-backlog.ts';

/** Bytes handed to the screen worker but not yet parsed; above it reading pauses. */
const SCREEN_HIGH_WATER = 1024 * 1024;
const SCREEN_LOW_WATER = 256 * 1024;
/** Output gathered within one event-loop turn is handed on as one chunk, up to this size. */
const COALESCE_MAX_BYTES = 64 * 1024;
/**
 * Output goes to the screen worker once the terminal has been quiet this long, once the
 * oldest waiting byte is this old, or once this much waits; until then a flood of plain
 * lines is trimmed to what can still be on screen (see screen-backlog.ts), and the rest
 * is never copied to the worker nor parsed. A title set by the shell reaches the
 * terminal list after the quiet time.
 */
const SCREEN_QUIET_MS = 50;
const SCREEN_MAX_WAIT_MS = 1000;
const SCREEN_WAIT_BYTES = 1024 * 1024;

export interface TerminalExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export interface ScreenedTerminalOptions {
  sink: JobEventSink;
  cols: number;
  rows: number;
  /** Lines of scrollback kept for re-attaching browsers. */
  scrollback?: number;
}

type Listener<T extends unknown[]> = (...args: T) => void;

/**
 * What every terminal (a local PTY, an SSH shell channel) shares: each output chunk goes,
 * as it is read, to the job's event sink (the recording) and to output listeners (attached
 * sockets); and, once the terminal is quiet (see SCREEN_QUIET_MS), to a headless xterm.js
 * in the screen worker thread that keeps the current screen for re-attaching browsers.
 * The worker handles messages in order, and what waits is posted before a snapshot
 * request, so `atSnapshot` marks a point in the stream: the snapshot holds every chunk
 * read before the call, and listeners get every chunk read after it (a caller queues those
 * until the snapshot is sent): no gap, no repeat.
 *
 * Flow control: `hold(reason)` pauses reading (the program then blocks on write) until
 * every reason is released; the sink's and the screen worker's own back-pressure are
 * reasons too. Subclasses say how to pause their byte source and how to resize it.
 */
export abstract class ScreenedTerminal {
  title = '';
  abstract readonly finished: Promise<TerminalExit>;

  protected readonly sink: JobEventSink;
  protected exited = false;
  protected lastDataAt = 0;
  protected readonly holds = new Set<string>();

  private readonly screenId: number;
  private screenBroken = false;
  private snapshotId = 0;
  private readonly snapshotWaiters = new Map<number, (snap: ScreenSnapshot) => void>();
  private paused = false;
  /** Bytes posted to the screen worker and not yet parsed there. */
  private screenPending = 0;
  /** Output not yet posted to the screen worker. */
  private readonly backlog: ScreenBacklog;
  private backlogSince = 0;
  private backlogTimer: NodeJS.Timeout | null = null;
  private outputListeners = new Set<Listener<[Buffer]>>();
  private coalesced: Buffer[] = [];
  private coalescedBytes = 0;
  private flushScheduled = false;
  private resizeListeners = new Set<Listener<[number, number]>>();
  private size: { cols: number; rows: number };

  constructor(opts: ScreenedTerminalOptions) {
    this.sink = opts.sink;
    this.size = { cols: opts.cols, rows: opts.rows };
    const scrollback = opts.scrollback ?? 5000;
    this.backlog = new ScreenBacklog(scrollback, opts.rows);
    this.screenId = screens.open(
      { onMessage: (m) => this.onScreenMessage(m), onLost: () => this.screenFailed() },
      { cols: opts.cols, rows: opts.rows, scrollback },
    );
    opts.sink.meta('resize', Buffer.from(JSON.stringify({ cols: opts.cols, rows: opts.rows })));
  }

  /** Pause or resume reading output from the program. */
  protected abstract setPaused(paused: boolean): void;
  /** Apply a new size to the program (SIGWINCH / window-change); false if it is gone. */
  protected abstract applySize(cols: number, rows: number): boolean;
  /** Keystrokes or pasted text for the program. */
  abstract write(data: string | Buffer): void;
  abstract cancel(graceMs: number): Promise<void>;

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

  /** Called when the terminal is resized, in order with output. */
  onResize(fn: Listener<[number, number]>): () => void {
    this.resizeListeners.add(fn);
    return () => this.resizeListeners.delete(fn);
  }

  /** Resizes the program's terminal, records it, and resizes the headless screen in stream order. */
  resize(cols: number, rows: number): boolean {
    if (this.exited || (cols === this.size.cols && rows === this.size.rows)) return false;
    this.flushOutput();
    if (!this.applySize(cols, rows)) return false;
    this.size = { cols, rows };
    this.sink.meta('resize', Buffer.from(JSON.stringify({ cols, rows })));
    for (const fn of this.resizeListeners) fn(cols, rows);
    // Output read before the resize was produced for the old size: the screen applies it first.
    if (!this.screenBroken) {
      this.postBacklog(true);
      this.backlog.resize(rows);
      screens.post({ t: 'resize', id: this.screenId, cols, rows });
    }
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
    this.postBacklog(true);
    screens.post({ t: 'snapshot', id: this.screenId, req });
  }

  /** Pauses reading until `release(reason)`; several reasons may hold at once. */
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

  /** Frees the server-side screen; call after `finished`. */
  dispose() {
    this.outputListeners.clear();
    this.resizeListeners.clear();
    this.snapshotWaiters.clear();
    this.stopBacklogTimer();
    if (!this.screenBroken) screens.close(this.screenId);
    this.screenBroken = true;
  }

  /** The program is gone: nothing may pause reading any more, so its last output is read. */
  protected markExited() {
    this.exited = true;
    this.holds.clear();
    this.applyHolds();
  }

  /** Drops every hold (cancel: a paused program must run to see its hangup). */
  protected releaseAll() {
    this.holds.clear();
    this.applyHolds();
  }

  /**
   * Reads arrive in small pieces (~4 KiB from a PTY). Under load many arrive in one
   * event-loop turn; they are handed on together at the end of the turn, so the sink,
   * every socket and the screen worker see one chunk instead of dozens (per-chunk
   * overhead, not bytes, is what costs). A lone keystroke echo still goes out in the same turn.
   */
  protected onData(data: Buffer) {
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
  protected flushOutput() {
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
    if (!this.backlog.bytes) this.backlogSince = Date.now();
    this.backlog.push(data);
    if (this.backlog.bytes >= SCREEN_WAIT_BYTES) this.postBacklog(false);
    else if (this.backlog.bytes && !this.backlogTimer) this.backlogTimer = setTimeout(() => this.backlogDue(), SCREEN_QUIET_MS);
  }

  /** The quiet-time clock ran out: post what waits if output stopped or has waited long enough, else look again later. */
  private backlogDue() {
    this.backlogTimer = null;
    if (this.screenBroken || !this.backlog.bytes) return;
    const now = Date.now();
    const quietFor = now - this.lastDataAt;
    if (quietFor >= SCREEN_QUIET_MS || now - this.backlogSince >= SCREEN_MAX_WAIT_MS) return this.postBacklog(false);
    const wait = Math.min(SCREEN_QUIET_MS - quietFor, SCREEN_MAX_WAIT_MS - (now - this.backlogSince));
    this.backlogTimer = setTimeout(() => this.backlogDue(), Math.max(1, wait));
  }

  /**
   * Posts what waits to the screen worker. `seal`: a resize or snapshot follows, so nothing
   * before it may be dropped later.
   */
  private postBacklog(seal: boolean) {
    this.stopBacklogTimer();
    if (seal) this.backlog.seal();
    const data = this.backlog.takeAll();
    if (!data) return;
    this.screenPending += data.length;
    if (this.screenPending > SCREEN_HIGH_WATER) this.hold('screen');
    // Copied, not transferred: the same bytes went to the sink and the sockets.
    screens.post({ t: 'data', id: this.screenId, data });
  }

  private stopBacklogTimer() {
    if (this.backlogTimer) clearTimeout(this.backlogTimer);
    this.backlogTimer = null;
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
    this.stopBacklogTimer();
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
    this.setPaused(want);
  }
}
