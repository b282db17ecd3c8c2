import type { Job } from '../../src/lib/shared/jobs.ts';
import {
  FLOW_HIGH_WATER, FLOW_LOW_WATER, type AttachOk, type TerminalExit, type TerminalsServerToClient,
} from '../../src/lib/shared/terminals.ts';
import type { ScreenedTerminal } from '../sources/screened-terminal.ts';

/** Largest output message; a flood is sent in pieces of about this size. */
const MAX_MESSAGE_BYTES = 64 * 1024;
/** A message this large means bulk output (a keystroke echo is a few bytes). */
const BULK_BYTES = 2048;
const BURST_MS = 5;
const BATCH_MS = 2;

/** What a session needs of a socket: its id and a typed emit. */
export interface TerminalPeer {
  id: string;
  emit<E extends keyof TerminalsServerToClient>(event: E, ...args: Parameters<TerminalsServerToClient[E]>): unknown;
}

interface Client {
  peer: TerminalPeer;
  /** Output bytes sent and not yet acknowledged. */
  unacked: number;
  /** Since when `unacked` has stayed at or above the low-water mark without an ack. */
  stalledSince: number | null;
  /** Snapshot sent: receives live output. Until then output and resizes wait in `queued`. */
  live: boolean;
  queued: Array<Buffer | { cols: number; rows: number }>;
  /** Stopped acknowledging: gets no output until it attaches again. */
  lagging: boolean;
}

export interface SessionOptions {
  /** A session with no attached socket this long asks to be ended. */
  idleMs: number;
  /** A client that blocks the PTY this long without acknowledging is dropped to lagging. */
  lagMs: number;
  onIdle: () => void;
  /** Called with each accepted keystroke batch (input recording, when enabled). */
  onInput?: (data: Buffer) => void;
}

/**
 * Who is attached to one running terminal: keyboard ownership (one socket types and sizes
 * the PTY, the others watch), per-socket flow control, and the idle clock.
 *
 * Flow control: every attached socket acknowledges the bytes it has written into its
 * terminal. While the slowest live socket has more than FLOW_HIGH_WATER unacknowledged the
 * PTY is held; it resumes below FLOW_LOW_WATER. A socket that holds it for `lagMs`
 * without acknowledging stops counting (and stops receiving) until it attaches again,
 * so one stuck tab cannot freeze the terminal for everyone.
 */
export class TerminalSession {
  readonly clients = new Map<string, Client>();
  keyboardOwner: string | null = null;
  idleSince: number | null = Date.now();
  ended: TerminalExit | null = null;

  /** Output read in this event-loop turn, sent to live sockets as one message in the check phase. */
  private outBuf: Buffer[] = [];
  private outBytes = 0;
  private outScheduled: NodeJS.Immediate | NodeJS.Timeout | null = null;
  private lastBulkAt = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    public job: Job,
    readonly cwd: string,
    readonly source: ScreenedTerminal,
    private readonly opts: SessionOptions,
  ) {
    this.unsubscribe.push(
      source.onOutput((chunk) => this.broadcastOutput(chunk)),
      source.onResize((cols, rows) => {
        this.flushOut();
        for (const c of this.clients.values()) {
          if (c.lagging) continue;
          if (c.live) c.peer.emit('resize', { jobId: this.job.id, cols, rows });
          else c.queued.push({ cols, rows });
        }
      }),
    );
    this.startIdleClock();
  }

  get attachedCount() {
    return this.clients.size;
  }

  /**
   * Attaches (or re-attaches) a socket. `reply` is called synchronously at a point in the
   * stream, right before the snapshot is emitted: the ack, then the screen, then live output.
   */
  attach(peer: TerminalPeer, size: { cols?: number; rows?: number }, reply: (res: Omit<AttachOk, 'job'>) => void): void {
    this.clients.delete(peer.id);
    const client: Client = { peer, unacked: 0, stalledSince: null, live: false, lagging: false, queued: [] };
    this.clients.set(peer.id, client);
    this.stopIdleClock();
    if (!this.keyboardOwner || !this.clients.has(this.keyboardOwner)) this.keyboardOwner = peer.id;
    if (this.keyboardOwner === peer.id && size.cols && size.rows) this.source.resize(size.cols, size.rows);
    this.source.atSnapshot((snap) => {
      if (this.clients.get(peer.id) !== client || this.ended) return;
      // Output batched for the live sockets was read before this point: this one has it queued.
      this.flushOut();
      reply({ keyboard: this.keyboardOwner === peer.id, cols: snap.cols, rows: snap.rows, title: this.source.title });
      this.send(client, Buffer.from(snap.data, 'utf8'));
      // What was read while the screen caught up, in order.
      for (const item of client.queued) {
        if (Buffer.isBuffer(item)) this.send(client, item);
        else peer.emit('resize', { jobId: this.job.id, ...item });
      }
      client.queued = [];
      client.live = true;
      this.updateFlow();
    });
  }

  detach(peerId: string): boolean {
    if (!this.clients.delete(peerId)) return false;
    if (this.keyboardOwner === peerId) {
      // Hand the keyboard to the longest-attached tab still keeping up.
      const next = [...this.clients.values()].find((c) => !c.lagging) ?? this.clients.values().next().value;
      this.keyboardOwner = next?.peer.id ?? null;
      this.announceKeyboard();
    }
    if (!this.clients.size) this.startIdleClock();
    this.updateFlow();
    return true;
  }

  /** Keystrokes from `peerId`; ignored (false) unless it has the keyboard. */
  input(peerId: string, data: Buffer | string): boolean {
    if (this.ended || peerId !== this.keyboardOwner || !this.clients.has(peerId)) return false;
    this.source.write(data);
    this.opts.onInput?.(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    return true;
  }

  resize(peerId: string, cols: number, rows: number): boolean {
    if (this.ended || peerId !== this.keyboardOwner) return false;
    return this.source.resize(cols, rows);
  }

  takeKeyboard(peerId: string): boolean {
    if (this.ended || !this.clients.has(peerId)) return false;
    if (this.keyboardOwner !== peerId) {
      this.keyboardOwner = peerId;
      this.announceKeyboard();
    }
    return true;
  }

  ack(peerId: string, bytes: number): void {
    const c = this.clients.get(peerId);
    if (!c || !Number.isFinite(bytes) || bytes <= 0) return;
    c.unacked = Math.max(0, c.unacked - bytes);
    c.stalledSince = c.unacked >= FLOW_LOW_WATER ? Date.now() : null;
    this.updateFlow();
  }

  /** The terminal ended: tell every socket, stop the clocks. */
  end(exit: TerminalExit): void {
    this.flushOut();
    this.ended = exit;
    this.stopIdleClock();
    this.stopLagClock();
    for (const off of this.unsubscribe) off();
    for (const c of this.clients.values()) c.peer.emit('exit', exit);
    this.clients.clear();
  }

  /**
   * Interactive output (an echo, a prompt) goes out in the event-loop turn it was read.
   * During a burst (a large message went out within BURST_MS) chunks are gathered for up
   * to BATCH_MS, so a flood of ~4 KB PTY reads becomes fewer, larger messages: less work
   * per byte for the server, the socket and the browser.
   */
  private broadcastOutput(chunk: Buffer) {
    let live = false;
    for (const c of this.clients.values()) {
      if (c.lagging) continue;
      if (c.live) live = true;
      else c.queued.push(chunk);
    }
    if (!live) return;
    this.outBuf.push(chunk);
    this.outBytes += chunk.length;
    if (this.outBytes >= MAX_MESSAGE_BYTES) this.flushOut();
    else if (!this.outScheduled) {
      this.outScheduled = performance.now() - this.lastBulkAt < BURST_MS
        ? setTimeout(() => this.flushOut(), BATCH_MS)
        : setImmediate(() => this.flushOut());
    }
  }

  private flushOut() {
    if (this.outScheduled) {
      clearTimeout(this.outScheduled as NodeJS.Timeout);
      clearImmediate(this.outScheduled as NodeJS.Immediate);
    }
    this.outScheduled = null;
    if (!this.outBytes) return;
    const data = this.outBuf.length === 1 ? this.outBuf[0] : Buffer.concat(this.outBuf, this.outBytes);
    if (data.length >= BULK_BYTES) this.lastBulkAt = performance.now();
    this.outBuf = [];
    this.outBytes = 0;
    let over = false;
    for (const c of this.clients.values()) {
      if (!c.live || c.lagging) continue;
      this.send(c, data);
      if (c.unacked > FLOW_HIGH_WATER) over = true;
    }
    if (over) this.updateFlow();
  }

  private send(c: Client, data: Buffer) {
    c.peer.emit('output', { jobId: this.job.id, data });
    c.unacked += data.length;
    if (c.stalledSince === null && c.unacked >= FLOW_LOW_WATER) c.stalledSince = Date.now();
  }

  private updateFlow() {
    let slowest = 0;
    for (const c of this.clients.values()) if (c.live && !c.lagging) slowest = Math.max(slowest, c.unacked);
    if (slowest > FLOW_HIGH_WATER) {
      this.source.hold('clients');
      this.startLagClock();
    } else if (slowest < FLOW_LOW_WATER) {
      this.source.release('clients');
      this.stopLagClock();
    }
  }

  private checkLagging() {
    if (!this.source.isHeld('clients')) return this.stopLagClock();
    const now = Date.now();
    for (const c of this.clients.values()) {
      if (!c.live || c.lagging || c.unacked < FLOW_LOW_WATER) continue;
      if (c.stalledSince !== null && now - c.stalledSince >= this.opts.lagMs) {
        c.lagging = true;
        c.peer.emit('lagging', { jobId: this.job.id });
      }
    }
    this.updateFlow();
  }

  private announceKeyboard() {
    for (const c of this.clients.values()) c.peer.emit('keyboard', { jobId: this.job.id, owner: c.peer.id === this.keyboardOwner });
  }

  private startLagClock() {
    if (this.lagTimer) return;
    this.lagTimer = setInterval(() => this.checkLagging(), Math.min(1000, this.opts.lagMs / 4));
    this.lagTimer.unref();
  }

  private stopLagClock() {
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = null;
  }

  private startIdleClock() {
    this.stopIdleClock();
    this.idleSince = Date.now();
    this.idleTimer = setTimeout(() => this.opts.onIdle(), this.opts.idleMs);
    this.idleTimer.unref();
  }

  private stopIdleClock() {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.idleSince = null;
  }
}
