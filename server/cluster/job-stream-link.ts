import type { Namespace } from 'socket.io';
import type { JobDone } from '../../src/lib/shared/jobs.ts';
import type { HubPeers, JobStreamHub } from '../events/job-stream.hub.ts';
import type { Logger } from '../platform/logger.ts';

/** How long announcements gather before they go out in one message. */
const FLUSH_MS = 5;
/** NOTIFY payloads must stay under 8000 bytes; about 60 bytes per job. */
const JOBS_PER_MESSAGE = 100;
/**
 * How long after its start a server may wrongly believe it is alone: it publishes its
 * first heartbeat before its LISTEN connection is up, so the other servers' answers can be
 * lost, and it hears of them only at their next heartbeat (5 s apart when idle).
 */
const STARTUP_DISCOVERY_MS = 15_000;
const DISCOVERY_RETRY_MS = 1000;

const EVENTS = 'cluster:job-events';
const DONE = 'cluster:job-done';

/**
 * Carries "job X has events up to seq N" and "job X finished" between servers, over the
 * Socket.io adapter (Postgres NOTIFY). Only cursors travel: viewers on every server read the
 * events themselves from Postgres, so a lost or reordered message can delay a viewer but
 * never give it a gap or a duplicate. Announcements are gathered for a few milliseconds into
 * one message, so a busy server sends one NOTIFY per interval, not one per batch.
 *
 * Right after this server starts, what it announces while it seems to be alone is kept, the
 * other servers are asked to answer again each second, and the kept announcements go out
 * once one is known: otherwise a viewer on another server would wait for the job's next
 * output (or forever, for a job that prints once and waits).
 */
export class JobStreamLink implements HubPeers {
  private pending = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  /** Announced while alone during the startup window, in order: events first, then ends. */
  private unsentEvents = new Map<string, number>();
  private unsentDone: Array<{ done: JobDone; lastSeq: number }> = [];
  private discoveryTimer?: NodeJS.Timeout;

  constructor(private readonly nsp: Namespace, private readonly hub: JobStreamHub, private readonly log: Logger) {
    const on = nsp.on.bind(nsp) as (event: string, fn: (...args: never[]) => void) => void;
    on(EVENTS, (pairs: Array<[string, number]>) => {
      if (!Array.isArray(pairs)) return;
      for (const [jobId, seq] of pairs) if (typeof jobId === 'string' && Number.isInteger(seq)) hub.advance(jobId, seq);
    });
    on(DONE, (msg: { done: JobDone; lastSeq: number }) => {
      if (msg?.done?.jobId && Number.isInteger(msg.lastSeq)) hub.finishedElsewhere(msg.done, msg.lastSeq);
    });
    hub.connectPeers(this);
  }

  committed(jobId: string, lastSeq: number): void {
    this.pending.set(jobId, Math.max(this.pending.get(jobId) ?? 0, lastSeq));
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  finished(done: JobDone, lastSeq: number): void {
    // The events first, so no server sees the end before it knows the last seq.
    void this.flush().then(() => this.emit(DONE, { done, lastSeq }));
  }

  private async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending.size) return;
    const pairs = [...this.pending];
    this.pending.clear();
    for (let i = 0; i < pairs.length; i += JOBS_PER_MESSAGE) await this.emit(EVENTS, pairs.slice(i, i + JOBS_PER_MESSAGE));
  }

  private async emit(event: string, payload: unknown): Promise<void> {
    try {
      if ((await this.nsp.adapter.serverCount()) < 2) {
        // Alone on the database, there is nobody to tell; unless this server has just
        // started and has not heard the others yet.
        if (Date.now() - this.startedAt < STARTUP_DISCOVERY_MS) this.keepUnsent(event, payload);
        return;
      }
      (this.nsp.serverSideEmit as (ev: string, ...args: unknown[]) => boolean)(event, payload);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not tell the other servers about job output');
    }
  }

  private keepUnsent(event: string, payload: unknown) {
    if (event === EVENTS) {
      for (const [jobId, seq] of payload as Array<[string, number]>) this.unsentEvents.set(jobId, Math.max(this.unsentEvents.get(jobId) ?? 0, seq));
    } else {
      this.unsentDone.push(payload as { done: JobDone; lastSeq: number });
    }
    if (!this.discoveryTimer) this.discover();
  }

  /** Asks the other servers to answer (a fresh initial heartbeat) and sends what was kept once one has. */
  private discover() {
    this.discoveryTimer = setTimeout(() => {
      this.discoveryTimer = undefined;
      void (async () => {
        const alone = (await this.nsp.adapter.serverCount()) < 2;
        if (!alone) return this.sendUnsent();
        if (Date.now() - this.startedAt >= STARTUP_DISCOVERY_MS) {
          this.unsentEvents.clear();
          this.unsentDone = [];
          return;
        }
        (this.nsp.adapter as unknown as { init(): void }).init();
        this.discover();
      })().catch((err) => this.log.warn({ err: (err as Error).message }, 'could not look for the other servers'));
    }, DISCOVERY_RETRY_MS);
    this.discoveryTimer.unref();
  }

  private async sendUnsent() {
    const pairs = [...this.unsentEvents];
    const done = this.unsentDone;
    this.unsentEvents.clear();
    this.unsentDone = [];
    for (let i = 0; i < pairs.length; i += JOBS_PER_MESSAGE) await this.emit(EVENTS, pairs.slice(i, i + JOBS_PER_MESSAGE));
    for (const d of done) await this.emit(DONE, d);
  }
}
