import type { EventRepository, StoredEvent } from './event.repository.ts';

interface Waiting {
  jobId: string;
  events: StoredEvent[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Rows per statement: 5 parameters a row, well under Postgres' 65,535-parameter limit. */
const MAX_ROWS = 4000;

/**
 * Group commit for every job's sink. While one statement is in flight, batches from all
 * jobs queue and go together in the next one, so fifty busy jobs cost one transaction per
 * round trip instead of fifty. A failed batch is rejected to its sink, which retries on
 * its own (the insert is idempotent).
 */
export class EventWriter {
  private queue: Waiting[] = [];
  private busy = false;

  constructor(private readonly repo: Pick<EventRepository, 'insertMany'>) {}

  write(jobId: string, events: StoredEvent[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ jobId, events, resolve, reject });
      if (!this.busy) void this.drain();
    });
  }

  private async drain() {
    this.busy = true;
    while (this.queue.length) {
      const take: Waiting[] = [];
      let rows = 0;
      while (this.queue.length && (rows + this.queue[0].events.length <= MAX_ROWS || !take.length)) {
        const w = this.queue.shift()!;
        take.push(w);
        rows += w.events.length;
      }
      try {
        await this.repo.insertMany(take);
        for (const w of take) w.resolve();
      } catch (err) {
        if (take.length === 1) take[0].reject(err);
        // One bad batch (say, of a job deleted meanwhile) must not hold back every other
        // job: write them one by one so each succeeds or fails on its own.
        else await Promise.all(take.map((w) => this.repo.insertMany([w]).then(w.resolve, w.reject)));
      }
    }
    this.busy = false;
  }
}
