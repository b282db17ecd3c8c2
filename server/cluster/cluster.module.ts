import type { Namespace } from 'socket.io';
import type { Config } from '../config.ts';
import type { JobStreamHub } from '../events/job-stream.hub.ts';
import { reapOrphanedJobs } from '../jobs/job.reaper.ts';
import type { JobRepository } from '../jobs/job.repository.ts';
import type { JobRunner } from '../jobs/job-runner.ts';
import type { JobService } from '../jobs/job.service.ts';
import type { Logger } from '../platform/logger.ts';
import { JobStreamLink } from './job-stream-link.ts';
import type { ServerRegistry } from './server-registry.ts';

const CANCEL = 'cluster:cancel-job';

export interface ClusterDeps {
  config: Config;
  registry: ServerRegistry;
  jobsNsp: Namespace;
  hub: JobStreamHub;
  jobs: JobService;
  jobRepo: JobRepository;
  runner: JobRunner;
  log: Logger;
  /** The socket bus is still in its startup window (see socket-bus.ts); absent without a bus. */
  discovering?: () => boolean;
}

/**
 * Makes this server a peer of the others on the same database: live output and job ends
 * reach viewers on every server, a cancel reaches the server that runs the job, and a dead
 * server's jobs are marked interrupted by a survivor.
 */
export async function joinCluster(d: ClusterDeps) {
  const log = d.log.child({ module: 'cluster', serverId: d.registry.id });
  new JobStreamLink(d.jobsNsp, d.hub, log, d.discovering);

  const on = d.jobsNsp.on.bind(d.jobsNsp) as (event: string, fn: (...args: never[]) => void) => void;
  on(CANCEL, (msg: { jobId: string; by: string }, reply: (ok: boolean) => void) => {
    if (!d.runner.isRunning(msg?.jobId)) return reply(false);
    void d.runner.cancel(msg.jobId, `${msg.by} (through another server)`).then(reply, () => reply(false));
  });
  d.jobs.setRemoteCancel((jobId, by) => new Promise((resolve) => {
    // Every other server answers; one that does not within the adapter's request timeout
    // (5 s) is left out, and the answers that came still count.
    const emit = d.jobsNsp.serverSideEmit as (ev: string, ...args: unknown[]) => boolean;
    emit.call(d.jobsNsp, CANCEL, { jobId, by }, (_err: Error | null, answers: unknown[] = []) => {
      resolve(answers.some((ok) => ok === true));
    });
  }));

  const reap = async (why: string) => {
    const dead = await d.registry.claimDead();
    for (const s of dead) log.warn({ deadServer: s.id, machine: s.machine, pid: s.pid }, 'claimed a server that stopped answering');
    await reapOrphanedJobs(d.jobRepo, d.runner, d.registry.machine, log, why);
  };
  await d.registry.register();
  await reap('the server stopped while this job was running');
  d.registry.start(
    () => reap('the server running this job stopped answering'),
    async () => d.runner.abandonAll(),
  );
  return { close: () => d.registry.close() };
}
