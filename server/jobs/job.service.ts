import type { User } from '../../src/lib/shared/auth.ts';
import type { CreateJobBody, Job } from '../../src/lib/shared/jobs.ts';
import type { EventRepository, StoredEvent } from '../events/event.repository.ts';
import type { AuditLog } from '../platform/audit.ts';
import { conflict, forbidden, notFound, validationFailed } from '../platform/errors.ts';
import type { ProjectsService } from '../projects/projects.service.ts';
import { childEnv } from '../sources/child-env.ts';
import type { ProcessLauncher } from '../sources/process-launcher.ts';
import { runProcess } from '../sources/process.source.ts';
import type { JobRepository, JobFilter } from './job.repository.ts';
import type { JobRunner } from './job-runner.ts';
import { displayCommand, makeArgv } from './make-argv.ts';

/** Starts a job of a given type; other features (terminals, SSH, VMs) register theirs. */
export type JobStarter = (user: User, body: CreateJobBody) => Promise<Job>;

/** Asks the server that runs a job to cancel it; true when one did. */
export type RemoteCancel = (jobId: string, by: string) => Promise<boolean>;

/** Jobs: creation, access control, history, output and cancellation. No HTTP types here. */
export class JobService {
  private starters = new Map<string, JobStarter>();
  private remoteCancel: RemoteCancel = async () => false;

  constructor(
    private readonly jobs: JobRepository,
    private readonly eventRepo: EventRepository,
    private readonly runner: JobRunner,
    private readonly projects: ProjectsService,
    private readonly audit: AuditLog,
    private readonly launcher: ProcessLauncher,
  ) {
    this.starters.set('make', (user, body) => this.startMake(user, body as Extract<CreateJobBody, { type: 'make' }>));
  }

  registerStarter(type: string, starter: JobStarter) {
    this.starters.set(type, starter);
  }

  /** Several servers: a job this one does not run may run on another. */
  setRemoteCancel(fn: RemoteCancel) {
    this.remoteCancel = fn;
  }

  async create(user: User, body: CreateJobBody): Promise<Job> {
    const starter = this.starters.get(body?.type);
    if (!starter) throw validationFailed(`Unknown job type "${body?.type}"`);
    return starter(user, body);
  }

  /** The job, if `user` may see it (its owner, or an admin); 404 otherwise so ids do not leak. */
  async get(user: User, id: string): Promise<Job> {
    const job = /^[0-9a-f-]{36}$/i.test(id) ? await this.jobs.get(id) : null;
    if (!job || (user.role !== 'admin' && job.userId !== user.id)) throw notFound('Job');
    return job;
  }

  list(user: User, filter: Omit<JobFilter, 'visibleTo'>) {
    return this.jobs.list({ ...filter, visibleTo: user.role === 'admin' ? undefined : user.id });
  }

  async events(user: User, id: string, after: number, limit: number, maxBytes?: number): Promise<{ job: Job; events: StoredEvent[] }> {
    const job = await this.get(user, id);
    return { job, events: await this.eventRepo.list(id, after, limit, maxBytes) };
  }

  async cancel(user: User, id: string): Promise<Job> {
    const job = await this.get(user, id);
    const elsewhere = job.status === 'running' && !this.runner.isRunning(id) && job.serverId !== null;
    if (!(await this.runner.cancel(id, user.username)) && !(elsewhere && (await this.remoteCancel(id, user.username)))) {
      throw conflict(`Job is ${job.status}, not running`, { status: job.status });
    }
    await this.audit.record({ type: 'job', action: 'job.cancel', userId: user.id, metadata: { jobId: id } });
    return job;
  }

  async rerun(user: User, id: string): Promise<Job> {
    await this.get(user, id);
    const spec = (await this.jobs.spec(id)) as { body?: CreateJobBody } | null;
    if (!spec?.body) throw conflict('This job cannot be re-run');
    return this.create(user, spec.body);
  }

  private async startMake(user: User, body: Extract<CreateJobBody, { type: 'make' }>): Promise<Job> {
    if (typeof body.project !== 'string' || typeof body.target !== 'string') {
      throw validationFailed('project and target are required');
    }
    const variables = body.variables ?? {};
    if (typeof variables !== 'object' || Array.isArray(variables)) throw validationFailed('variables must be an object of NAME: value');
    const argv = makeArgv({ target: body.target, variables, mayRunCommands: user.role === 'admin' || user.canTerminal });
    await this.projects.get(body.project);
    if (!(await this.projects.hasTarget(body.project, body.target))) {
      throw validationFailed(`Project ${body.project} has no target "${body.target}"`, { target: body.target });
    }
    // realpath: the job runs in the directory the project names, wherever symlinks point.
    const cwd = await this.projects.resolveDir(body.project);
    if (user.role !== 'admin' && !user.canTerminal && Object.keys(variables).length > 32) {
      throw forbidden('Too many variables');
    }
    const job = await this.jobs.create({
      type: 'make',
      command: displayCommand(argv),
      spec: { body: { type: 'make', project: body.project, target: body.target, variables }, cwd },
      status: 'queued',
      userId: user.id,
      projectAlias: body.project,
      target: body.target,
    });
    await this.audit.record({ type: 'job', action: 'job.start', userId: user.id, metadata: { jobId: job.id, command: job.command } });
    return this.runner.run(job, async (sink) => {
      sink.system(`$ ${job.command}   (in ${cwd})`);
      const env = childEnv({ FORCE_COLOR: '1', CLICOLOR_FORCE: '1' });
      const run = await runProcess(argv, { cwd, env, sink, launcher: this.launcher });
      return { pgid: run.pid, procStart: run.startTime, finished: run.finished, cancel: run.cancel };
    });
  }
}
