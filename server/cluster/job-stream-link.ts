import type { Namespace } from 'socket.io';
import type { JobDone } from '../../src/lib/shared/jobs.ts';
import type { HubPeers, JobStreamHub } from '../events/job-stream.hub.ts';
import type { Logger } from '../platform/logger.ts';

/** How long announcements gather before they go out in one message. */
const FLUSH_MS = 5;
/** NOTIFY payloads must stay under 8000 bytes; about 60 bytes per job. */
const JOBS_PER_MESSAGE = 100;

const EVENTS = 'cluster:job-events';
const DONE = 'cluster:job-done';

/**
 * Carries "job X has events up to seq N" and "job X finished" between servers, over the
 * Socket.io adapter (Postgres NOTIFY). Only cursors travel: viewers on every server read the
 * events themselves from Postgres, so a lost or reordered message can delay a viewer but
 * never give it a gap or a duplicate. Announcements are gathered for a few milliseconds into
 * one message, so a busy server sends one NOTIFY per interval, not one per batch.
 */
export class JobStreamLink implements HubPeers {
  private pending = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  /**
   * `discovering`: whether the socket bus is still in its startup window, in which the
   * adapter may count this server alone while others are there (see STARTUP_DISCOVERY_MS
   * in socket-bus.ts). Without a bus there are no other servers to tell.
   */
  constructor(
    private readonly nsp: Namespace,
    private readonly hub: JobStreamHub,
    private readonly log: Logger,
    private readonly discovering: () => boolean = () => false,
  ) {
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
      // Alone on the database, there is nobody to tell; but a server that has just started
      // may not have heard the others yet, and a viewer there of a job that prints once and
      // waits would wait for good: until the bus knows them, tell anyway.
      if (!this.discovering() && (await this.nsp.adapter.serverCount()) < 2) return;
      (this.nsp.serverSideEmit as (ev: string, ...args: unknown[]) => boolean)(event, payload);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not tell the other servers about job output');
    }
  }
}
