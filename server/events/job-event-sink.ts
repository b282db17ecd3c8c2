import type { StreamName } from '../../src/lib/shared/jobs.ts';
import type { Logger } from '../platform/logger.ts';
import type { StoredEvent } from './event.repository.ts';
import { incompleteUtf8Tail } from './utf8-boundary.ts';

export interface SinkOptions {
  jobId: string;
  insertBatch: (jobId: string, events: StoredEvent[]) => Promise<void>;
  /** Called with each batch after it is committed: live viewers only ever see stored events. */
  publish: (events: StoredEvent[]) => void;
  log: Logger;
  /** Last seq already stored for this job (appending to an existing job). */
  startSeq?: number;
  /** Bytes of output kept; past it the head and a bounded tail are kept around a marker. */
  capBytes?: number;
  flushMs?: number;
  flushBytes?: number;
  /** Above this many unstored bytes, write() returns false and the source must pause. */
  highWaterBytes?: number;
  maxEventBytes?: number;
  /** The database has refused writes this long: the job cannot be recorded, stop its source. */
  outageTimeoutMs?: number;
  onOutage?: (downForMs: number) => void;
}

interface PendingEvent {
  stream: StreamName;
  parts: Buffer[];
  length: number;
  at: Date;
}

/** Batches of one job being stored at once (see drainPending). */
const BATCHES_IN_FLIGHT = 2;
const TEXT_STREAMS = new Set<StreamName>(['stdout', 'stderr', 'pty']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One per job, shared by every kind of source (process, PTY, SSH, provisioning step).
 * Turns writes into numbered events and stores them in batches; seq numbers are given
 * when a batch is formed, so they are dense (1, 2, 3 …) and match what is stored.
 * Memory is bounded: write() reports back-pressure past `highWaterBytes`.
 */
export class JobEventSink {
  lastSeq: number;
  /** Output bytes accepted (before the cap). */
  acceptedBytes = 0;
  truncated = false;
  /** The database outage outlived `outageTimeoutMs` at some point while this sink ran. */
  outage = false;

  private readonly o: Required<Omit<SinkOptions, 'onOutage' | 'startSeq'>> & Pick<SinkOptions, 'onOutage'>;
  private pending: PendingEvent[] = [];
  private unstoredBytes = 0;
  private carry = new Map<StreamName, Buffer>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private closed = false;
  private drainWaiters: Array<() => void> = [];
  private readonly headLimit: number;
  private readonly tailLimit: number;
  private tail: Array<{ stream: StreamName; chunk: Buffer; at: Date }> = [];
  private tailBytes = 0;
  private omittedBytes = 0;

  constructor(opts: SinkOptions) {
    this.o = {
      capBytes: Number.POSITIVE_INFINITY,
      flushMs: 25,
      flushBytes: 256 * 1024,
      highWaterBytes: 4 * 1024 * 1024,
      maxEventBytes: 64 * 1024,
      outageTimeoutMs: 60_000,
      ...opts,
    };
    this.lastSeq = opts.startSeq ?? 0;
    // The tail is held in memory until the job ends, so it gets a fixed bound.
    this.tailLimit = Math.min(Math.floor(this.o.capBytes / 2), 8 * 1024 * 1024);
    this.headLimit = this.o.capBytes - this.tailLimit;
  }

  get jobId() {
    return this.o.jobId;
  }

  /** Accepts output; false means "pause until whenDrained()". Never throws, never drops accepted bytes. */
  write(stream: StreamName, data: Buffer): boolean {
    if (this.closed) {
      this.o.log.warn({ jobId: this.o.jobId, bytes: data.length }, 'write after close ignored');
      return true;
    }
    if (TEXT_STREAMS.has(stream)) {
      const held = this.carry.get(stream);
      if (held) data = Buffer.concat([held, data]);
      const keep = incompleteUtf8Tail(data);
      if (keep) {
        this.carry.set(stream, Buffer.from(data.subarray(data.length - keep)));
        data = data.subarray(0, data.length - keep);
      } else if (held) {
        this.carry.delete(stream);
      }
    }
    if (data.length) this.acceptOutput(stream, data);
    return this.unstoredBytes < this.o.highWaterBytes;
  }

  /** A message from vm-orchestrator itself (start, cancel, truncation …), shown apart from output. */
  system(text: string): void {
    if (this.closed) return;
    this.append('system', Buffer.from(text, 'utf8'));
  }

  /** Raw event that bypasses the output cap (terminal resizes, recorded input). */
  meta(stream: StreamName, data: Buffer): void {
    if (this.closed) return;
    this.append(stream, data);
  }

  /** Resolves once unstored bytes fall below half the high-water mark. */
  whenDrained(): Promise<void> {
    if (this.unstoredBytes < this.o.highWaterBytes / 2) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Stores everything still held (including a kept tail) and stops accepting writes. */
  async close(): Promise<void> {
    if (this.closed) return this.flushing ?? undefined;
    for (const [stream, held] of this.carry) this.acceptOutput(stream, held);
    this.carry.clear();
    if (this.truncated) {
      this.append('system', Buffer.from(
        `Output cap reached: ${this.omittedBytes} bytes in the middle were not kept; the last ${this.tailBytes} bytes follow.`,
      ));
      for (const t of this.tail) this.append(t.stream, t.chunk, t.at);
      this.tail = [];
    }
    this.closed = true;
    await this.flushNow();
  }

  private acceptOutput(stream: StreamName, data: Buffer) {
    const before = this.acceptedBytes;
    this.acceptedBytes += data.length;
    if (this.acceptedBytes <= this.headLimit) return this.append(stream, data);
    const room = Math.max(0, this.headLimit - before);
    if (room) this.append(stream, data.subarray(0, room));
    if (!this.truncated) {
      this.truncated = true;
      this.append('system', Buffer.from(
        `Output passed the cap of ${this.o.capBytes} bytes: the middle is not kept; the last ${this.tailLimit} bytes will follow when the job ends.`,
      ));
    }
    this.keepTail(stream, Buffer.from(data.subarray(room)));
  }

  private keepTail(stream: StreamName, chunk: Buffer) {
    this.tail.push({ stream, chunk, at: new Date() });
    this.tailBytes += chunk.length;
    while (this.tailBytes > this.tailLimit) {
      const first = this.tail[0];
      const over = this.tailBytes - this.tailLimit;
      if (first.chunk.length <= over) {
        this.tail.shift();
        this.tailBytes -= first.chunk.length;
        this.omittedBytes += first.chunk.length;
      } else {
        first.chunk = first.chunk.subarray(over);
        this.tailBytes -= over;
        this.omittedBytes += over;
      }
    }
  }

  private append(stream: StreamName, data: Buffer, at = new Date()) {
    const max = this.o.maxEventBytes;
    for (let off = 0; off < data.length; off += max) {
      const piece = data.subarray(off, off + max);
      const last = this.pending[this.pending.length - 1];
      // Consecutive output of one stream is merged into one row: fewer rows, same bytes.
      if (last && last.stream === stream && stream !== 'system' && stream !== 'resize' && last.length + piece.length <= max) {
        last.parts.push(piece);
        last.length += piece.length;
      } else {
        this.pending.push({ stream, parts: [piece], length: piece.length, at });
      }
      this.unstoredBytes += piece.length;
    }
    if (!data.length && stream === 'system') this.pending.push({ stream, parts: [], length: 0, at });
    if (this.unstoredBytes >= this.o.flushBytes) void this.flushNow();
    else if (!this.timer && !this.flushing) this.timer = setTimeout(() => void this.flushNow(), this.o.flushMs);
  }

  private flushNow(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.flushing) {
      this.flushing = this.drainPending().finally(() => {
        this.flushing = null;
        // Writes that arrived after the loop's last check get their own timer.
        if (this.pending.length) this.timer = setTimeout(() => void this.flushNow(), this.o.flushMs);
      });
    }
    return this.flushing;
  }

  /**
   * Forms batches from what is pending and stores them, up to two at a time when output
   * floods in: the next one is formed and sent while Postgres stores the previous (the
   * repository commits them in order). Each batch is published, and its bytes count as stored, only once it and every
   * batch before it are committed, so viewers still only ever see stored events, in order.
   */
  private async drainPending() {
    const inFlight: Array<{ batch: StoredEvent[]; bytes: number; stored: Promise<void> }> = [];
    let inFlightBytes = 0;
    while (this.pending.length || inFlight.length) {
      // A second batch only for a flood (a full flush's worth waiting): a trickle waits and
      // goes in one batch, as few rows and statements as before for many quiet jobs.
      const waiting = this.unstoredBytes - inFlightBytes;
      if (this.pending.length && (!inFlight.length || (inFlight.length < BATCHES_IN_FLIGHT && waiting >= this.o.flushBytes))) {
        const next = this.nextBatch();
        inFlight.push(next);
        inFlightBytes += next.bytes;
        continue;
      }
      const oldest = inFlight.shift()!;
      await oldest.stored;
      inFlightBytes -= oldest.bytes;
      this.unstoredBytes -= oldest.bytes;
      this.o.publish(oldest.batch);
      if (this.unstoredBytes < this.o.highWaterBytes / 2 && this.drainWaiters.length) {
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  /** Takes up to four flush sizes of pending events, numbers them, and starts storing them. */
  private nextBatch() {
    const take: PendingEvent[] = [];
    let bytes = 0;
    while (this.pending.length && (bytes < this.o.flushBytes * 4 || !take.length)) {
      const e = this.pending.shift()!;
      take.push(e);
      bytes += e.length;
    }
    const batch: StoredEvent[] = take.map((e) => ({
      seq: ++this.lastSeq,
      stream: e.stream,
      chunk: e.parts.length === 1 ? e.parts[0] : Buffer.concat(e.parts, e.length),
      at: e.at,
    }));
    return { batch, bytes, stored: this.store(batch) };
  }

  /** Retries until the batch is stored: accepted output is never dropped because the database blinked. */
  private async store(batch: StoredEvent[]) {
    let failingSince = 0;
    let delay = 100;
    for (;;) {
      try {
        await this.o.insertBatch(this.o.jobId, batch);
        if (failingSince) this.o.log.info({ jobId: this.o.jobId, downMs: Date.now() - failingSince }, 'event writes resumed');
        return;
      } catch (err) {
        if (!failingSince) failingSince = Date.now();
        const down = Date.now() - failingSince;
        this.o.log.warn({ jobId: this.o.jobId, err: (err as Error).message, downMs: down }, 'event write failed; retrying');
        if (down >= this.o.outageTimeoutMs && !this.outage) {
          this.outage = true;
          this.o.onOutage?.(down);
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 2000);
      }
    }
  }
}
