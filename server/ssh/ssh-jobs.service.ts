import type { User } from '../../src/lib/shared/auth.ts';
import type { SshPreset } from '../../src/lib/shared/inventory.ts';
import type { CreateJobBody, Job } from '../../src/lib/shared/jobs.ts';
import type { InventoryService } from '../inventory/inventory.service.ts';
import type { HostRow } from '../inventory/host.repository.ts';
import type { JobRepository } from '../jobs/job.repository.ts';
import type { JobRunner } from '../jobs/job-runner.ts';
import type { AuditLog } from '../platform/audit.ts';
import { forbidden, validationFailed } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import type { RemoteShellTarget } from '../terminals/terminal.service.ts';
import { mayUseTerminals } from '../terminals/terminal.service.ts';
import { commandRun, describePreset, parsePreset, startPreset, type PresetPosition } from './log-presets.ts';
import { runRemote, type ReconnectPolicy } from './ssh-exec.source.ts';
import type { SshPool } from './ssh-pool.ts';
import { SshShellSource } from './ssh-shell.source.ts';

export interface SshJobOptions {
  /** Lines a log preset shows from before the stream starts. */
  initialLines: number;
  reconnect: ReconnectPolicy;
  /** How often a stream's resume position is saved into the job's spec. */
  positionSaveMs?: number;
}

type SshBody = { type: 'ssh'; host?: unknown; command?: unknown; preset?: unknown };

const MAX_COMMAND = 64 * 1024;

/**
 * Remote jobs on inventory hosts: `{type: "ssh", host, command}` (admins and users with
 * terminal access: it runs anything the login may) or `{type: "ssh", host, preset}` (log
 * streams anyone signed in may open), and SSH shells for the terminals feature. Output
 * goes through the job pipeline like any local job.
 */
export class SshJobService {
  constructor(
    private readonly inventory: InventoryService,
    private readonly pool: SshPool,
    private readonly runner: JobRunner,
    private readonly jobRepo: JobRepository,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly opts: SshJobOptions,
  ) {}

  /** The `ssh` job starter (registered with JobService). */
  readonly start = async (user: User, raw: CreateJobBody): Promise<Job> => {
    const body = raw as SshBody;
    if (typeof body.host !== 'string' || !body.host) throw validationFailed('host is required: a host id or environment/name');
    if ((body.command === undefined) === (body.preset === undefined)) throw validationFailed('give either command or preset');
    let preset: SshPreset | null = null;
    let command: string;
    if (body.preset !== undefined) {
      preset = parsePreset(body.preset);
      command = describePreset(preset, this.opts.initialLines);
    } else {
      if (!mayUseTerminals(user)) {
        throw forbidden('Custom commands need terminal access; use a log preset (journalctl, docker logs, tail) instead');
      }
      if (typeof body.command !== 'string' || !body.command.trim()) throw validationFailed('command must be a non-empty string');
      if (body.command.length > MAX_COMMAND || body.command.includes('\0')) throw validationFailed('command is too long or holds a NUL byte');
      command = body.command;
    }
    const row = await this.inventory.host(body.host);
    const plan = await this.inventory.route(row);
    const label = `${plan.target.config.user}@${plan.target.label}`;
    const storedBody = preset ? { type: 'ssh', host: row.id, preset } : { type: 'ssh', host: row.id, command };
    const job = await this.jobRepo.create({
      type: 'ssh',
      command,
      spec: { body: storedBody, host: hostRef(row), position: null },
      status: 'queued',
      userId: user.id,
      hostId: row.id,
    });
    await this.audit.record({
      type: 'job', action: 'job.start', userId: user.id,
      metadata: { jobId: job.id, command, host: `${row.environment}/${row.name}`, preset: preset?.kind ?? null },
    });
    this.log.info({ jobId: job.id, host: plan.target.label, preset: preset?.kind ?? null }, 'ssh job started');

    return this.runner.run(job, (sink) => {
      sink.system(`$ ${command}   (on ${label}${plan.hops.length ? ` via ${plan.hops.map((h) => h.label).join(' → ')}` : ''})`);
      const saved = { json: 'null' };
      const save = (p: PresetPosition) => {
        const json = JSON.stringify(p);
        if (json === saved.json) return;
        saved.json = json;
        void this.jobRepo.mergeSpec(job.id, { position: p }).catch((err) => this.log.warn({ jobId: job.id, err: (err as Error).message }, 'could not save the stream position'));
      };
      const run = runRemote({
        pool: this.pool,
        plan,
        sink,
        start: preset ? (from) => startPreset(preset, from, this.opts.initialLines) : () => commandRun(command),
        resumable: preset !== null,
        reconnect: this.opts.reconnect,
        onPosition: save,
      });
      if (preset) {
        const timer = setInterval(() => {
          const p = run.position();
          if (p) save(p);
        }, this.opts.positionSaveMs ?? 2000);
        timer.unref();
        void run.finished.finally(() => clearInterval(timer));
      }
      return { finished: run.finished, cancel: run.cancel };
    });
  };

  /** For the terminals feature: an SSH shell on an inventory host (terminal access required there). */
  readonly remoteShell = async (_user: User, ref: string): Promise<RemoteShellTarget> => {
    const row = await this.inventory.host(ref);
    const plan = await this.inventory.route(row);
    const label = `${plan.target.config.user}@${row.environment}/${row.name}`;
    return {
      hostId: row.id,
      label,
      command: `ssh ${label}`,
      open: (sink, cols, rows) => SshShellSource.openOn(this.pool, plan, { sink, cols, rows }),
    };
  };
}

function hostRef(row: HostRow) {
  return { id: row.id, environment: row.environment, name: row.name, host: row.host };
}
