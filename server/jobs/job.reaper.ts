import type { Logger } from '../platform/logger.ts';
import { processStartTime, signalGroup } from '../sources/process-group.ts';
import type { JobRepository } from './job.repository.ts';
import type { JobRunner } from './job-runner.ts';

/**
 * Jobs no live server runs (this server's previous process, or a server that died and was
 * claimed) are marked `interrupted` with a system event. Their process groups are killed
 * when they ran on this machine and the group leader is still the process that was started
 * (pids are reused); a dead server's groups on another machine are out of reach.
 */
export async function reapOrphanedJobs(jobs: JobRepository, runner: JobRunner, machine: string, log: Logger, why: string): Promise<number> {
  const left = await jobs.orphaned();
  for (const job of left) {
    if (runner.isRunning(job.id) || !(await jobs.claimOrphan(job.id, job.serverId))) continue;
    const here = job.spec.procMachine === undefined ? job.serverId === null : job.spec.procMachine === machine;
    if (here && job.pgid && job.spec.procStart && processStartTime(job.pgid) === job.spec.procStart) {
      signalGroup(job.pgid, 'SIGKILL');
      log.warn({ jobId: job.id, pgid: job.pgid }, 'killed a process group left by a server that is gone');
    }
    await runner.interruptOrphan(job.id, job.lastSeq, `Interrupted: ${why}`);
    log.info({ jobId: job.id, formerServer: job.serverId }, 'marked a job of a server that is gone as interrupted');
  }
  return left.length;
}
