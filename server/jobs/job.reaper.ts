import type { Logger } from '../platform/logger.ts';
import { processStartTime, signalGroup } from '../sources/process-group.ts';
import type { JobRepository } from './job.repository.ts';
import type { JobRunner } from './job-runner.ts';

/**
 * Crash recovery at start: jobs a previous server process left unfinished are marked
 * `interrupted` with a system event, and the process groups they left behind are killed,
 * but only when the group leader is still the process that was started (pids are reused).
 */
export async function reapInterruptedJobs(jobs: JobRepository, runner: JobRunner, log: Logger): Promise<number> {
  const left = await jobs.unfinished();
  for (const job of left) {
    if (runner.isRunning(job.id)) continue;
    if (job.pgid && job.spec.procStart && processStartTime(job.pgid) === job.spec.procStart) {
      signalGroup(job.pgid, 'SIGKILL');
      log.warn({ jobId: job.id, pgid: job.pgid }, 'killed a process group left by a previous server');
    }
    const sink = runner.createSink(job.id, job.lastSeq);
    sink.system('Interrupted: the server stopped while this job was running');
    await sink.close();
    await jobs.finish(job.id, 'interrupted', null);
  }
  if (left.length) log.info({ count: left.length }, 'marked jobs of a previous server process as interrupted');
  return left.length;
}
