import { PgBoss } from 'pg-boss';
import type { VmAction } from '../../src/lib/shared/vms.ts';
import type { Queryable } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';

/** What a queued VM operation carries: ids only; the handler reads the rest from the database. */
export interface VmOpPayload {
  vmId: string;
  operationId: string;
  action: VmAction;
}

/** Which delivery this is: `final` when no retry follows a failure. */
export interface VmOpAttempt {
  number: number;
  limit: number;
  final: boolean;
}

/** One handler per action, all required: a missing one is a type error, not a job that never runs. */
export type VmOpHandlers = Record<VmAction, (payload: VmOpPayload, signal: AbortSignal, attempt: VmOpAttempt) => Promise<void>>;

export interface VmQueueOptions {
  /** Attempts and first delay (doubling each time) for creates and for the other actions. */
  retry: { provision: { limit: number; delaySeconds: number }; other: { limit: number; delaySeconds: number } };
  /** Operations carried out at once by this server: creates, and everything else. */
  concurrency: { provision: number; other: number };
  /** An attempt running longer is aborted (its handler gets the signal) and counts as failed. */
  timeoutSeconds: { provision: number; other: number };
  /**
   * A worker that stops sending heartbeats this long (its server was killed) loses the job,
   * which is retried by a live server instead of waiting for the timeout. At least 10.
   */
  heartbeatSeconds?: number;
  pollSeconds?: number;
  /** How often pg-boss looks for expired and abandoned jobs (tests shorten it). */
  superviseSeconds?: number;
}

export const VM_OPS_QUEUE = 'vm-operations';
export const VM_OPS_DEAD_LETTER = 'vm-operations-dead';

/**
 * VM operations in Postgres, through pg-boss (pinned at 12.35.0, whose `key_strict_fifo`
 * policy keeps one key's jobs in order). The key is the VM id, so one VM's actions run
 * one at a time in the order they were asked for — a stop never overtakes its create, even
 * while the create is being retried — and other VMs are not held up. Ordering holds within
 * one queue only, which is why every action shares this one. Exhausted jobs go to a
 * dead-letter queue that administrators can retry or discard.
 */
export class VmQueue {
  private readonly boss: PgBoss;
  private provisionsRunning = 0;
  private databaseGoneAt = 0;
  private readonly provisionWaiters: Array<() => void> = [];

  constructor(
    connectionString: string,
    private readonly handlers: VmOpHandlers,
    private readonly log: Logger,
    private readonly opts: VmQueueOptions,
  ) {
    this.boss = new PgBoss({
      connectionString,
      schema: 'pgboss',
      // Workers wake on a NOTIFY when an operation is queued instead of at their next poll
      // (measured: 16–26 ms to pick up instead of 0.5 s on average, up to 1 s); polling stays
      // as the fallback.
      useListenNotify: true,
      ...(opts.superviseSeconds ? { superviseIntervalSeconds: opts.superviseSeconds, monitorIntervalSeconds: opts.superviseSeconds } : {}),
    });
    this.boss.on('error', (err) => {
      // The database going away (a shutdown, a restart) ends every queue connection at once:
      // one line, not one per connection; pg-boss reconnects when it is back.
      if ((err as { code?: string }).code === '57P01') {
        if (Date.now() - this.databaseGoneAt > 10_000) this.log.warn('queue connections closed by the database (shutdown or restart)');
        this.databaseGoneAt = Date.now();
        return;
      }
      this.log.error({ err: (err as Error).message }, 'queue error');
    });
  }

  async start(): Promise<void> {
    await this.boss.start();
    await this.boss.createQueue(VM_OPS_DEAD_LETTER);
    await this.boss.createQueue(VM_OPS_QUEUE, { policy: 'key_strict_fifo', deadLetter: VM_OPS_DEAD_LETTER, notify: true });
    // A queue made by an earlier version keeps its options: turn the wake-up on there too.
    await this.boss.updateQueue(VM_OPS_QUEUE, { notify: true });
    const { provision, other } = this.opts.concurrency;
    await this.boss.work<VmOpPayload>(
      VM_OPS_QUEUE,
      {
        batchSize: 1,
        localConcurrency: provision + other,
        pollingIntervalSeconds: this.opts.pollSeconds ?? 2,
        // NOTIFY only announces new jobs; a retry coming due, or the next action of a VM whose
        // earlier one just finished, is found by polling, so it keeps its usual pace.
        notifyPollingIntervalSeconds: this.opts.pollSeconds ?? 2,
      },
      async ([job]) => {
        const r = this.retryFor(job.data.action);
        const attempt = { number: job.retryCount + 1, limit: r.limit, final: job.retryCount + 1 >= r.limit };
        return this.run(job.data, job.signal, attempt);
      },
    );
  }

  private retryFor(action: VmAction) {
    return action === 'create' ? this.opts.retry.provision : this.opts.retry.other;
  }

  /**
   * Queues an operation with `q`: pass the transaction that inserts the operation's row, so
   * both commit or neither does. Never queue two operations for one VM in one transaction.
   */
  async enqueue(q: Queryable, payload: VmOpPayload): Promise<string | null> {
    const r = this.retryFor(payload.action);
    return this.boss.send(VM_OPS_QUEUE, payload, {
      singletonKey: payload.vmId,
      retryLimit: r.limit - 1,
      retryDelay: r.delaySeconds,
      retryBackoff: true,
      expireInSeconds: payload.action === 'create' ? this.opts.timeoutSeconds.provision : this.opts.timeoutSeconds.other,
      heartbeatSeconds: Math.max(10, this.opts.heartbeatSeconds ?? 30),
      db: { executeSql: async (text: string, values?: unknown[]) => ({ rows: (await q.query(text, values)).rows }) },
    });
  }

  /** Gives a failed (dead-lettered) operation another attempt; it keeps its place ahead of the VM's later actions. */
  async retry(queueJobId: string): Promise<void> {
    await this.boss.retry(VM_OPS_QUEUE, queueJobId);
  }

  /**
   * Drops an operation from the queue: a failed one stops blocking the VM's later actions,
   * a queued one never runs. Its dead-letter copy goes too.
   */
  async discard(queueJobId: string, operationId: string): Promise<void> {
    await this.boss.deleteJob(VM_OPS_QUEUE, queueJobId);
    const copies = await this.boss.findJobs(VM_OPS_DEAD_LETTER, { data: { operationId } });
    if (copies.length) await this.boss.deleteJob(VM_OPS_DEAD_LETTER, copies.map((j) => j.id));
  }

  /** Jobs in the dead-letter queue, by operation id (the admin queue page marks them). */
  async deadLettered(): Promise<Set<string>> {
    const jobs = await this.boss.findJobs<VmOpPayload>(VM_OPS_DEAD_LETTER);
    return new Set(jobs.map((j) => j.data.operationId));
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: true, timeout: 10_000 });
  }

  /** Creates take a provision slot (at most `concurrency.provision` at once in this server). */
  private async run(payload: VmOpPayload, signal: AbortSignal, attempt: VmOpAttempt): Promise<void> {
    const handler = this.handlers[payload.action];
    if (!handler) throw new Error(`no handler for VM action ${payload.action}`);
    if (payload.action !== 'create') return handler(payload, signal, attempt);
    while (this.provisionsRunning >= this.opts.concurrency.provision) {
      await new Promise<void>((r) => this.provisionWaiters.push(r));
    }
    this.provisionsRunning++;
    try {
      await handler(payload, signal, attempt);
    } finally {
      this.provisionsRunning--;
      this.provisionWaiters.shift()?.();
    }
  }
}
