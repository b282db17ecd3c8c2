import type { Job, JobStatus } from '../../src/lib/shared/jobs.ts';
import type { EventWriter } from '../events/event-writer.ts';
import { JobEventSink } from '../events/job-event-sink.ts';
import type { JobStreamHub } from '../events/job-stream.hub.ts';
import type { Logger } from '../platform/logger.ts';
import type { JobRepository } from './job.repository.ts';

/** What a started source hands back: how to wait for it and how to stop it. */
export interface RunHandle {
  pgid?: number | null;
  procStart?: string | null;
  finished: Promise<{ exitCode: number | null; signal?: NodeJS.Signals | null }>;
  cancel(graceMs: number): Promise<void>;
}

export interface RunnerOptions {
  capBytes: number;
  cancelGraceMs: number;
  outageTimeoutMs: number;
}

interface Running {
  job: Job;
  sink: JobEventSink;
  handle?: RunHandle;
  stopReason?: 'canceled' | 'interrupted' | 'failed';
  stopMessage?: string;
  done: Promise<Job>;
}

/**
 * Runs any kind of job source against one event sink and owns its life cycle:
 * queued → running → success | failed | canceled | interrupted. The final status is written
 * only after every byte of output is stored, and viewers get job:done after the last event.
 */
export class JobRunner {
  private running = new Map<string, Running>();

  constructor(
    private readonly jobs: JobRepository,
    private readonly writer: EventWriter,
    private readonly hub: JobStreamHub,
    private readonly onUpdate: (job: Job) => void,
    private readonly opts: RunnerOptions,
    private readonly log: Logger,
  ) {}

  /** A sink bound to this job's storage and live stream. */
  createSink(jobId: string, startSeq = 0, onOutage?: (ms: number) => void): JobEventSink {
    return new JobEventSink({
      jobId,
      startSeq,
      insertBatch: (id, evs) => this.writer.write(id, evs),
      publish: (evs) => this.hub.publish(jobId, evs),
      log: this.log,
      capBytes: this.opts.capBytes,
      outageTimeoutMs: this.opts.outageTimeoutMs,
      onOutage,
    });
  }

  /** Starts `start` for a queued job and returns the running job; completion is tracked here. */
  async run(job: Job, start: (sink: JobEventSink) => RunHandle | Promise<RunHandle>): Promise<Job> {
    const entry = { job } as Running;
    entry.sink = this.createSink(job.id, job.lastSeq, (ms) => {
      entry.stopReason = 'failed';
      entry.stopMessage = `The database was unreachable for ${Math.round(ms / 1000)} s, so output could not be recorded; the job was stopped.`;
      void entry.handle?.cancel(this.opts.cancelGraceMs);
    });
    this.running.set(job.id, entry);
    let handle: RunHandle;
    try {
      handle = await start(entry.sink);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      entry.sink.system(`Could not start: ${(err as Error).message}${typeof code === 'string' && /^[a-z_]+$/.test(code) ? ` [${code}]` : ''}`);
      entry.done = this.complete(entry, 'failed', null);
      return entry.done;
    }
    entry.handle = handle;
    const started = await this.jobs.markRunning(job.id, handle.pgid ?? null, handle.procStart ?? null);
    if (started) {
      entry.job = started;
      this.onUpdate(started);
    }
    entry.done = handle.finished.then(({ exitCode, signal }) => {
      if (entry.stopReason) return this.complete(entry, entry.stopReason, exitCode);
      if (signal) entry.sink.system(`Stopped by signal ${signal}`);
      return this.complete(entry, exitCode === 0 ? 'success' : 'failed', exitCode);
    });
    return entry.job;
  }

  /**
   * For jobs whose work is not one process but several attempts over time (VM operations
   * the queue retries): a sink that appends after what is already stored, with the job
   * marked running on its first attempt. Close it with `closeJournal` after each attempt;
   * pass the final status on the last one.
   */
  async openJournal(jobId: string): Promise<{ job: Job; sink: JobEventSink }> {
    const job = await this.jobs.get(jobId);
    if (!job) throw new Error(`job ${jobId} does not exist`);
    const sink = this.createSink(jobId, job.lastSeq);
    if (job.status !== 'queued') return { job, sink };
    const started = await this.jobs.markRunning(jobId, null, null);
    if (started) this.onUpdate(started);
    return { job: started ?? job, sink };
  }

  /** Stores what an attempt wrote; with `final`, also the job's end (viewers get job:done after the last event). */
  async closeJournal(jobId: string, sink: JobEventSink, final?: { status: JobStatus; exitCode: number | null }): Promise<Job | null> {
    await sink.close();
    if (!final) return null;
    const done = await this.finishWithRetry(jobId, final.status, final.exitCode, sink.truncated);
    const job = done ?? (await this.jobs.get(jobId));
    if (job) {
      this.hub.finish({ jobId, status: job.status, exitCode: job.exitCode }, sink.lastSeq);
      this.onUpdate(job);
    }
    return job;
  }

  /**
   * Ends a job no process of this server runs (its server is gone): the reason as the last
   * event, then `interrupted`; viewers anywhere get job:done and list views the new status.
   */
  async interruptOrphan(jobId: string, lastSeq: number, message: string): Promise<void> {
    const sink = this.createSink(jobId, lastSeq);
    sink.system(message);
    await sink.close();
    const job = await this.jobs.finish(jobId, 'interrupted', null);
    if (!job) return; // finished meanwhile by someone else
    this.hub.finish({ jobId, status: job.status, exitCode: job.exitCode }, sink.lastSeq);
    this.onUpdate(job);
  }

  /**
   * This server was taken for dead and its jobs were marked interrupted by another: stop every
   * process here, without recording anything (the final status is already written).
   */
  abandonAll(): void {
    for (const entry of this.running.values()) {
      if (!entry.stopReason) {
        entry.stopReason = 'interrupted';
        entry.stopMessage = 'Interrupted: this server lost contact with the others and its jobs were taken over';
      }
      void entry.handle?.cancel(0);
    }
  }

  isRunning(jobId: string): boolean {
    return this.running.has(jobId);
  }

  /** Cancels a running job (SIGTERM to its group, SIGKILL after the grace period). */
  async cancel(jobId: string, by: string): Promise<boolean> {
    const entry = this.running.get(jobId);
    if (!entry || entry.stopReason) return !!entry;
    entry.stopReason = 'canceled';
    entry.stopMessage = `Canceled by ${by}`;
    await entry.handle?.cancel(this.opts.cancelGraceMs);
    return true;
  }

  /** Resolves with the final job once a running job has completed. */
  finished(jobId: string): Promise<Job> | undefined {
    return this.running.get(jobId)?.done;
  }

  /** Server shutdown: stop every job, record why, and wait until each is stored. */
  async shutdown(): Promise<void> {
    const all = [...this.running.values()];
    for (const entry of all) {
      if (!entry.stopReason) {
        entry.stopReason = 'interrupted';
        entry.stopMessage = 'Interrupted: the server was stopped';
      }
      void entry.handle?.cancel(Math.min(this.opts.cancelGraceMs, 3000));
    }
    await Promise.allSettled(all.map((e) => e.done));
  }

  private async complete(entry: Running, status: JobStatus, exitCode: number | null): Promise<Job> {
    const { sink, job } = entry;
    const startedAt = entry.job.startedAt;
    const ms = startedAt ? Date.now() - new Date(startedAt).getTime() : null;
    const took = ms === null ? '' : ms < 1000 ? ` after ${ms} ms` : ` after ${(ms / 1000).toFixed(1)} s`;
    if (entry.stopMessage) sink.system(entry.stopMessage);
    if (exitCode !== null) sink.system(`Exited with code ${exitCode}${took}`);
    await sink.close();
    let final = await this.finishWithRetry(job.id, status, exitCode, sink.truncated);
    this.running.delete(job.id);
    if (!final) final = (await this.jobs.get(job.id)) ?? job;
    this.hub.finish({ jobId: job.id, status: final.status, exitCode: final.exitCode }, sink.lastSeq);
    this.onUpdate(final);
    return final;
  }

  private async finishWithRetry(id: string, status: JobStatus, exitCode: number | null, truncated: boolean) {
    for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
      try {
        return await this.jobs.finish(id, status, exitCode, truncated);
      } catch (err) {
        this.log.warn({ jobId: id, err: (err as Error).message }, 'could not record the final status; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}
