import type { Socket } from 'socket.io';
import type { JobDone } from '../../src/lib/shared/jobs.ts';
import type { Logger } from '../platform/logger.ts';
import { toWire } from './event-format.ts';
import type { EventRepository, StoredEvent } from './event.repository.ts';
import { queuedBytes } from './socket-pressure.ts';

/** Past this much queued for a socket, its viewer catches up from Postgres instead. */
export const LIVE_LIMIT_BYTES = 2 * 1024 * 1024;
const PAGE_ROWS = 2000;
const PAGE_BYTES = 1024 * 1024;
const BINARY_EVENTS_PER_PACKET = 10;

interface Subscription {
  socket: Socket;
  jobId: string;
  /** Highest seq this socket has been sent. */
  cursor: number;
  /** Reading from Postgres (replay or catch-up); live batches wait for it. */
  pumping: boolean;
  done?: JobDone;
  doneSent: boolean;
  encoding: 'utf8' | 'binary';
}

/** Tells the other servers what this one committed (see server/cluster/job-stream-link.ts). */
export interface HubPeers {
  committed(jobId: string, lastSeq: number): void;
  finished(done: JobDone, lastSeq: number): void;
}

/**
 * Delivers a job's events to each watching socket with its own seq cursor.
 * Live batches go straight out when they continue the cursor and the socket is keeping
 * up; otherwise the socket reads from Postgres (the truth) until it has caught up. So
 * replay and live never leave a gap or send a seq twice, however they interleave.
 */
export class JobStreamHub {
  private subs = new Map<string, Set<Subscription>>();
  /** Highest committed seq per job seen in this process. */
  private committed = new Map<string, number>();
  private finished = new Map<string, { done: JobDone; lastSeq: number }>();

  private peers?: HubPeers;
  private endedListeners: Array<(done: JobDone) => void> = [];

  constructor(private readonly repo: EventRepository, private readonly log: Logger) {}

  connectPeers(peers: HubPeers): void {
    this.peers = peers;
  }

  /** Calls `fn` for every job that ends, here or (with peers) on another server. */
  onEnded(fn: (done: JobDone) => void): void {
    this.endedListeners.push(fn);
  }

  /** The sink calls this after a batch is committed. */
  publish(jobId: string, events: StoredEvent[]): void {
    if (!events.length) return;
    const lastSeq = events[events.length - 1].seq;
    this.committed.set(jobId, Math.max(this.committed.get(jobId) ?? 0, lastSeq));
    this.peers?.committed(jobId, lastSeq);
    const subs = this.subs.get(jobId);
    if (!subs) return;
    for (const sub of subs) {
      if (sub.pumping) continue; // the pump reads up to `committed` before it stops
      if (events[0].seq === sub.cursor + 1 && queuedBytes(sub.socket.conn as never, LIVE_LIMIT_BYTES) < LIVE_LIMIT_BYTES) {
        this.send(sub, events);
      } else if (events[events.length - 1].seq > sub.cursor) {
        void this.pump(sub);
      }
    }
  }

  /**
   * Another server committed a job's events up to `lastSeq`: viewers here read them from
   * Postgres (the truth), each from its own cursor. Recorded even with no viewer yet, so a
   * viewer joining right after the announcement still reads up to it.
   */
  advance(jobId: string, lastSeq: number): void {
    if (this.finished.has(jobId) || lastSeq <= (this.committed.get(jobId) ?? 0)) return;
    this.committed.set(jobId, lastSeq);
    for (const sub of this.subs.get(jobId) ?? []) {
      if (!sub.pumping && sub.cursor < lastSeq) void this.pump(sub);
    }
  }

  /** The job reached a final status: viewers get job:done once they have every event before it. */
  finish(done: JobDone, lastSeq: number): void {
    this.peers?.finished(done, lastSeq);
    this.finishHere(done, lastSeq);
  }

  /** Another server finished a job. */
  finishedElsewhere(done: JobDone, lastSeq: number): void {
    this.finishHere(done, lastSeq);
  }

  private finishHere(done: JobDone, lastSeq: number): void {
    for (const fn of this.endedListeners) fn(done);
    this.committed.set(done.jobId, Math.max(this.committed.get(done.jobId) ?? 0, lastSeq));
    this.finished.set(done.jobId, { done, lastSeq });
    // Forget it after a while; late joiners read status from the database.
    setTimeout(() => {
      this.finished.delete(done.jobId);
      if (!this.subs.has(done.jobId)) this.committed.delete(done.jobId);
    }, 60_000).unref();
    for (const sub of this.subs.get(done.jobId) ?? []) {
      sub.done = done;
      if (!sub.pumping) void this.pump(sub);
    }
  }

  /**
   * Starts streaming to `socket` from `after`. `lastSeq` is the job's stored cursor read by
   * the caller; `done` is set for a job that has already finished.
   */
  subscribe(socket: Socket, jobId: string, after: number, lastSeq: number, done?: JobDone, encoding: 'utf8' | 'binary' = 'utf8'): void {
    this.unsubscribe(socket, jobId);
    const sub: Subscription = { socket, jobId, cursor: after, pumping: false, doneSent: false, done, encoding };
    const fin = this.finished.get(jobId);
    if (fin) sub.done = fin.done;
    this.committed.set(jobId, Math.max(this.committed.get(jobId) ?? 0, lastSeq));
    let set = this.subs.get(jobId);
    if (!set) this.subs.set(jobId, (set = new Set()));
    set.add(sub);
    void this.pump(sub);
  }

  unsubscribe(socket: Socket, jobId?: string): void {
    for (const [id, set] of this.subs) {
      if (jobId && id !== jobId) continue;
      for (const sub of set) if (sub.socket === socket) set.delete(sub);
      if (!set.size) this.subs.delete(id);
    }
  }

  private send(sub: Subscription, events: StoredEvent[]) {
    sub.cursor = events[events.length - 1].seq;
    if (sub.encoding === 'utf8') {
      sub.socket.emit('job:log', { jobId: sub.jobId, events: events.map((e) => toWire(e)) });
      return;
    }
    // Socket.io decoders accept at most 10 binary attachments per packet by default.
    for (let i = 0; i < events.length; i += BINARY_EVENTS_PER_PACKET) {
      const part = events.slice(i, i + BINARY_EVENTS_PER_PACKET).map((e) => toWire(e, 'binary'));
      sub.socket.emit('job:log', { jobId: sub.jobId, events: part });
    }
  }

  private active(sub: Subscription) {
    return sub.socket.connected && !!this.subs.get(sub.jobId)?.has(sub);
  }

  private async pump(sub: Subscription): Promise<void> {
    if (sub.pumping) return;
    sub.pumping = true;
    let failed = false;
    try {
      while (this.active(sub)) {
        const target = this.committed.get(sub.jobId) ?? 0;
        if (sub.cursor >= target) break;
        if (queuedBytes(sub.socket.conn as never, LIVE_LIMIT_BYTES) >= LIVE_LIMIT_BYTES) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const rows = await this.repo.list(sub.jobId, sub.cursor, PAGE_ROWS, PAGE_BYTES);
        if (!rows.length) {
          // Committed but not yet visible to this connection: look again shortly.
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        if (this.active(sub)) this.send(sub, rows);
      }
    } catch (err) {
      failed = true;
      this.log.warn({ jobId: sub.jobId, err: (err as Error).message }, 'replay to a socket failed; retrying in a second');
    } finally {
      sub.pumping = false;
    }
    const target = this.committed.get(sub.jobId) ?? 0;
    if (!this.active(sub)) return;
    if (sub.cursor < target) {
      // A batch was committed while the last read ran (or the database is unreachable):
      // go again later rather than spin.
      setTimeout(() => void this.pump(sub), failed ? 1000 : 50).unref();
    } else if (sub.done && !sub.doneSent) {
      sub.doneSent = true;
      sub.socket.emit('job:done', sub.done);
    }
  }
}
