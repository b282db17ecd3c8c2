import type { EventRepository, StoredEvent } from './event.repository.ts';

interface Waiting {
  jobId: string;
  events: StoredEvent[];
  resolve: () => void;
  reject: (err: unknown) => void;
  /** Order of arrival: a job's batches are always sent in this order. */
  n: number;
  /** Output bytes in `events`. */
  bytes: number;
  /** Written in a transaction of its own (after a grouped write failed). */
  alone?: boolean;
}

/** Rows per statement: 5 parameters a row, well under Postgres' 65,535-parameter limit. */
const MAX_ROWS = 4000;
/**
 * Transactions in flight at once. With one, Node waits while Postgres stores a batch and
 * Postgres waits while Node forms the next; with two, they overlap. More does not help on
 * a small machine and only holds more connections.
 */
const MAX_IN_FLIGHT = 2;
/**
 * Groups smaller than this go in one statement (one round trip: what live viewers of many
 * jobs wait for); larger ones by COPY (fast per byte, a few more round trips).
 */
const SMALL_GROUP_BYTES = 256 * 1024;

/**
 * Group commit for every job's sink. Batches from all jobs queue and go together in the
 * next transaction, so fifty busy jobs cost one transaction per round trip instead of
 * fifty. A small group is one statement, sent when nothing else is in flight; large ones
 * go by COPY, up to two at a time, and the repository commits the ones that touch the
 * same job in the order they were sent (see `EventRepository.insertMany`). A failed batch
 * is rejected to its sink, which retries on its own (the insert is idempotent).
 */
export class EventWriter {
  private queue: Waiting[] = [];
  /** Output bytes of everything queued. */
  private queuedBytes = 0;
  private arrivals = 0;
  private inFlight = 0;
  /** Resolves when the last transaction sent has taken its cursor locks. */
  private lastLocked: Promise<void> = Promise.resolve();

  constructor(private readonly repo: Pick<EventRepository, 'insertMany' | 'insertSmall'>) {}

  write(jobId: string, events: StoredEvent[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const bytes = events.reduce((n, e) => n + e.chunk.length, 0);
      this.queue.push({ jobId, events, resolve, reject, n: ++this.arrivals, bytes });
      this.queuedBytes += bytes;
      this.drain();
    });
  }

  private drain() {
    while (this.queue.length && this.inFlight < MAX_IN_FLIGHT) {
      // The one-statement write reads cursors without waiting for locks: it goes alone.
      // While a write is in flight, a queue too small for COPY is left as it is.
      if (this.inFlight > 0 && this.queuedBytes < SMALL_GROUP_BYTES) return;
      const group = this.takeGroup();
      const bytes = group.reduce((n, w) => n + w.bytes, 0);
      const small = bytes < SMALL_GROUP_BYTES;
      if (small && this.inFlight > 0) {
        this.queue.unshift(...group); // cut short by MAX_ROWS: many tiny rows
        return;
      }
      this.queuedBytes -= bytes;
      this.send(group, small);
    }
  }

  private takeGroup(): Waiting[] {
    if (this.queue[0].alone) return [this.queue.shift()!];
    const take: Waiting[] = [];
    let rows = 0;
    while (this.queue.length && !this.queue[0].alone && (rows + this.queue[0].events.length <= MAX_ROWS || !take.length)) {
      const w = this.queue.shift()!;
      take.push(w);
      rows += w.events.length;
    }
    return take;
  }

  private send(take: Waiting[], small: boolean) {
    this.inFlight++;
    const turn = this.lastLocked;
    let locked!: () => void;
    this.lastLocked = new Promise((r) => (locked = r));
    const written = small ? this.repo.insertSmall(take) : this.repo.insertMany(take, { turn, locked });
    written.then(
      () => {
        for (const w of take) w.resolve();
      },
      (err) => {
        if (take.length === 1) return take[0].reject(err);
        // One bad batch (say, of a job deleted meanwhile) must not hold back every other
        // job: write them one by one, in their order of arrival among what is queued, so
        // each succeeds or fails on its own.
        this.queue.push(...take.map((w) => ({ ...w, alone: true })));
        this.queuedBytes += take.reduce((n, w) => n + w.bytes, 0);
        this.queue.sort((a, b) => a.n - b.n);
      },
    ).finally(() => {
      locked();
      this.inFlight--;
      this.drain();
    });
  }
}
