import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { User } from '../../src/lib/shared/auth.ts';
import type { CreateJobBody, Job } from '../../src/lib/shared/jobs.ts';
import type { JobEventSink } from '../events/job-event-sink.ts';
import type { AttachOk, TerminalSummary } from '../../src/lib/shared/terminals.ts';
import type { JobRepository } from '../jobs/job.repository.ts';
import type { JobRunner } from '../jobs/job-runner.ts';
import type { JobService } from '../jobs/job.service.ts';
import { displayCommand, makeArgv } from '../jobs/make-argv.ts';
import type { AuditLog } from '../platform/audit.ts';
import { conflict, forbidden, validationFailed } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import type { ProjectsService } from '../projects/projects.service.ts';
import { childEnv } from '../sources/child-env.ts';
import { PtySource } from '../sources/pty.source.ts';
import type { ScreenedTerminal } from '../sources/screened-terminal.ts';
import { TerminalSession, type TerminalPeer } from './terminal-session.ts';
import type { RemoteTerminals } from '../cluster/remote-terminals.ts';

type TerminalBody = Extract<CreateJobBody, { type: 'terminal' }>;

/** A shell on another host, ready to open once the job exists (SSH shells; see RemoteShells). */
export interface RemoteShellTarget {
  /** The inventory host or the provisioned VM it runs on (one of the two). */
  hostId?: string;
  vmId?: string;
  /** `user@host` as shown in lists, in place of a directory. */
  label: string;
  command: string;
  open(sink: JobEventSink, cols: number, rows: number): Promise<ScreenedTerminal>;
}

/** Prepares a remote shell for `user` on `host` (id or environment/name); throws when that cannot work. */
export type RemoteShellFactory = (user: User, host: string) => Promise<RemoteShellTarget>;

export interface TerminalServiceOptions {
  /** Default shell, started as a login shell (`-l`). */
  shell: string;
  idleMinutes: number;
  /** A socket that blocks output this long without acknowledging is dropped to lagging. */
  lagMs?: number;
  /** The list of allowed login shells (tests may point elsewhere). */
  shellsFile?: string;
  /** Opens SSH shells for `{ host }` bodies; absent, such bodies are refused. */
  remoteShells?: RemoteShellFactory;
  /** Opens shells in provisioned VMs for `{ vm }` bodies (their owners may, without terminal access to this server). */
  vmShells?: RemoteShellFactory;
}

export const MIN_COLS = 2;
export const MAX_COLS = 1000;
export const MIN_ROWS = 1;
export const MAX_ROWS = 500;

export const mayUseTerminals = (user: User) => user.role === 'admin' || user.canTerminal;

/**
 * Interactive terminals: a PTY per `terminal` job, which keeps running while no browser is
 * attached (until the idle timeout), and the sockets attached to each. Every terminal is
 * a job, so its output is recorded, listed and cancelled like any other. No HTTP or
 * socket types here; the socket layer hands in peers.
 */
export class TerminalService {
  private readonly sessions = new Map<string, TerminalSession>();
  /** Which account each attached socket acts for, so a revoked permission reaches open tabs. */
  private readonly peerUsers = new Map<string, string>();
  private readonly lagMs: number;
  /** Terminals of the other servers on the same database, reached through them. */
  private remote?: RemoteTerminals;

  constructor(
    private readonly jobs: JobService,
    private readonly jobRepo: JobRepository,
    private readonly runner: JobRunner,
    private readonly projects: ProjectsService,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly opts: TerminalServiceOptions,
  ) {
    this.lagMs = opts.lagMs ?? 10_000;
  }

  connectRemote(remote: RemoteTerminals): void {
    this.remote = remote;
  }

  /** The `terminal` job starter (registered with JobService). */
  readonly start = async (user: User, raw: CreateJobBody): Promise<Job> => {
    const body = parseBody(raw as TerminalBody);
    // A VM's owner may always open a shell in it: it is their machine, not this server.
    if (body.vm) {
      if (!this.opts.vmShells) throw validationFailed('VM shells are not available on this server');
      return this.startRemote(user, body, await this.opts.vmShells(user, body.vm));
    }
    if (!mayUseTerminals(user)) throw forbidden('Terminal access is not enabled for your account; ask an administrator');
    if (body.host) {
      if (!this.opts.remoteShells) throw validationFailed('SSH shells are not available on this server');
      return this.startRemote(user, body, await this.opts.remoteShells(user, body.host));
    }
    let dir = process.env.HOME || os.homedir();
    if (body.cwd) {
      await this.projects.get(body.cwd);
      dir = await this.projects.resolveDir(body.cwd);
    }
    let argv: string[];
    let command: string;
    let shell = this.opts.shell;
    if (body.target) {
      if (!body.cwd) throw validationFailed('target needs cwd: the project whose target runs');
      argv = makeArgv({ target: body.target, mayRunCommands: true });
      if (!(await this.projects.hasTarget(body.cwd, body.target))) {
        throw validationFailed(`Project ${body.cwd} has no target "${body.target}"`, { target: body.target });
      }
      command = displayCommand(argv);
    } else {
      if (body.shell) shell = await this.checkShell(body.shell);
      await fs.access(shell, fsc.X_OK).catch(() => {
        throw conflict(`The shell ${shell} cannot be run on this server (TERMINAL_SHELL)`);
      });
      argv = [shell, '-l'];
      command = `${path.basename(shell)} -l`;
    }
    const job = await this.jobRepo.create({
      type: 'terminal',
      command,
      spec: { body, cwd: dir, argv, cols: body.cols, rows: body.rows, recordInput: body.recordInput },
      status: 'queued',
      userId: user.id,
      projectAlias: body.cwd ?? null,
      target: body.target ?? null,
    });
    await this.audit.record({
      type: 'job', action: 'terminal.open', userId: user.id,
      metadata: { jobId: job.id, cwd: dir, project: body.cwd ?? null, command },
    });
    this.log.info({ jobId: job.id, userId: user.id, cwd: dir, command }, 'terminal opened');

    return this.launch(user, job, dir, body.recordInput, (sink) => {
      const source = new PtySource({
        argv,
        cwd: dir,
        env: childEnv({ TERM: 'xterm-256color', COLORTERM: 'truecolor', SHELL: shell }),
        cols: body.cols,
        rows: body.rows,
        sink,
      });
      return { source, pgid: source.pid, procStart: source.startTime };
    });
  };

  /** An SSH shell on an inventory host or in a VM: the same session, screen and recording as a local one. */
  private async startRemote(user: User, body: ParsedBody, target: RemoteShellTarget): Promise<Job> {
    const job = await this.jobRepo.create({
      type: 'terminal',
      command: target.command,
      spec: { body, cwd: target.label, cols: body.cols, rows: body.rows, recordInput: body.recordInput, hostId: target.hostId, vmId: target.vmId },
      status: 'queued',
      userId: user.id,
      hostId: target.hostId ?? null,
      vmId: target.vmId ?? null,
    });
    await this.audit.record({
      type: 'job', action: 'terminal.open', userId: user.id,
      metadata: { jobId: job.id, host: target.label, hostId: target.hostId, vmId: target.vmId, command: target.command },
    });
    this.log.info({ jobId: job.id, userId: user.id, host: target.label }, 'ssh shell opened');
    return this.launch(user, job, target.label, body.recordInput, async (sink) => {
      sink.system(`Connecting to ${target.label}…`);
      return { source: await target.open(sink, body.cols, body.rows) };
    });
  }

  /** Runs a terminal job: starts its source, keeps the session for attaching, audits its end. */
  private async launch(
    user: User,
    job: Job,
    where: string,
    recordInput: boolean,
    startSource: (sink: JobEventSink) => Promise<{ source: ScreenedTerminal; pgid?: number; procStart?: string | null }> | { source: ScreenedTerminal; pgid?: number; procStart?: string | null },
  ): Promise<Job> {
    let session: TerminalSession | undefined;
    const started = await this.runner.run(job, async (sink) => {
      const { source, pgid, procStart } = await startSource(sink);
      session = new TerminalSession(job, where, source, {
        idleMs: this.opts.idleMinutes * 60_000,
        lagMs: this.lagMs,
        onIdle: () => {
          this.log.info({ jobId: job.id }, 'terminal idle timeout');
          void this.runner.cancel(job.id, `the idle timeout (no browser attached for ${formatMinutes(this.opts.idleMinutes)})`);
        },
        // Keystrokes are recorded only when asked for at creation; they are never logged.
        onInput: recordInput ? (data) => sink.meta('input', data) : undefined,
      });
      this.sessions.set(job.id, session);
      return { pgid, procStart, finished: source.finished, cancel: (grace) => source.cancel(grace) };
    });
    const done = this.runner.finished(job.id);
    if (session) session.job = started;
    if (done && session) {
      const s = session;
      void done.then((final) => this.ended(s, final));
    } else {
      // Could not start (the runner has already stored why).
      await this.audit.record({
        type: 'job', action: 'terminal.close', userId: user.id,
        metadata: { jobId: job.id, cwd: where, status: started.status, exitCode: started.exitCode },
      });
    }
    return started;
  }

  /** Running terminals `user` may see, with who is attached; on every server unless `localOnly`. */
  async list(user: User, opts: { localOnly?: boolean } = {}): Promise<TerminalSummary[]> {
    const elsewhere = !opts.localOnly && this.remote ? this.remote.listElsewhere(user) : Promise.resolve([]);
    const visible = [...this.sessions.values()].filter((s) => !s.ended && (user.role === 'admin' || s.job.userId === user.id));
    if (!visible.length) return elsewhere;
    const { jobs } = await this.jobs.list(user, { type: 'terminal', status: 'running,queued', limit: 200 });
    const fresh = new Map(jobs.map((j) => [j.id, j]));
    const here = visible.map((s) => {
      const job = fresh.get(s.job.id) ?? s.job;
      return {
        ...job,
        attached: s.attachedCount,
        idleSince: s.idleSince ? new Date(s.idleSince).toISOString() : null,
        endsAt: s.idleSince ? new Date(s.idleSince + this.opts.idleMinutes * 60_000).toISOString() : null,
        cols: s.source.cols,
        rows: s.source.rows,
        title: s.source.title,
        cwd: s.cwd,
      };
    });
    return [...here, ...(await elsewhere)];
  }

  /**
   * Attaches a socket to a terminal `user` may see (its owner or an admin; not_found
   * otherwise). `reply` gets the ack payload right before the screen snapshot is sent.
   */
  async attach(user: User, peer: TerminalPeer, msg: { jobId?: unknown; cols?: unknown; rows?: unknown }, reply: (res: AttachOk) => void) {
    const job = await this.jobs.get(user, String(msg?.jobId));
    if (job.type !== 'terminal') throw validationFailed('This job is not a terminal');
    const session = this.sessions.get(job.id);
    if ((!session || session.ended) && this.remote?.runsElsewhere(job)) {
      if (!mayUseTerminals(user)) throw forbidden('Terminal access is not enabled for your account; ask an administrator');
      await this.remote.attach(user, peer.id, job, optionalSize(msg), (res) => {
        this.peerUsers.set(peer.id, user.id);
        reply({ job, ...res });
      });
      return;
    }
    if (!session || session.ended) {
      if (job.status === 'running' || job.status === 'queued') {
        throw conflict('This terminal runs in another server process or has just ended; try again');
      }
      const spec = (await this.jobRepo.spec(job.id)) as { cols?: number; rows?: number } | null;
      reply({ job, keyboard: false, cols: spec?.cols ?? 80, rows: spec?.rows ?? 24, title: '', ended: true });
      peer.emit('exit', { jobId: job.id, exitCode: job.exitCode, status: job.status });
      return;
    }
    // A live shell needs the permission now, not only when it was opened.
    if (!mayUseTerminals(user)) throw forbidden('Terminal access is not enabled for your account; ask an administrator');
    const size = optionalSize(msg);
    this.peerUsers.set(peer.id, user.id);
    session.attach(peer, size, (res) => reply({ job, ...res }));
  }

  detach(peerId: string, jobId?: string): void {
    this.remote?.detach(peerId, jobId);
    for (const [id, s] of this.sessions) {
      if (jobId && id !== jobId) continue;
      s.detach(peerId);
    }
    if (!jobId) this.peerUsers.delete(peerId);
  }

  /**
   * An admin changed `user`. If the account may no longer use terminals, every tab it has
   * attached is detached at once (and told why), so typing stops now, not at the next attach.
   */
  revokeIfDenied(user: User): void {
    if (!mayUseTerminals(user)) this.revokeUser(user.id, 'Terminal access was turned off for your account');
  }

  /** Detaches every tab of a user and tells it why; the terminals keep running. */
  revokeUser(userId: string, reason: string): void {
    for (const [jobId, session] of this.sessions) {
      for (const [peerId, client] of [...session.clients]) {
        if (this.peerUsers.get(peerId) !== userId) continue;
        session.detach(peerId);
        client.peer.emit('revoked', { jobId, reason });
      }
    }
  }

  input(peerId: string, jobId: string, data: unknown): boolean {
    const s = this.sessions.get(jobId);
    const remote = !s && this.remote?.forwards(peerId, jobId);
    if (!s && !remote) return false;
    let bytes: Buffer | string;
    if (typeof data === 'string') bytes = data;
    else if (Buffer.isBuffer(data)) bytes = data;
    else if (data instanceof ArrayBuffer || data instanceof Uint8Array) bytes = Buffer.from(data as ArrayBuffer);
    else return false;
    if (!bytes.length) return false;
    if (!s) {
      this.remote!.input(peerId, jobId, bytes);
      return true;
    }
    return s.input(peerId, bytes);
  }

  resize(peerId: string, jobId: string, cols: unknown, rows: unknown): boolean {
    const s = this.sessions.get(jobId);
    const size = optionalSize({ cols, rows });
    if (!size.cols || !size.rows) return false;
    if (!s && this.remote?.forwards(peerId, jobId)) {
      this.remote.resize(peerId, jobId, size.cols, size.rows);
      return true;
    }
    return s ? s.resize(peerId, size.cols, size.rows) : false;
  }

  ack(peerId: string, jobId: string, bytes: unknown): void {
    const s = this.sessions.get(jobId);
    if (s) s.ack(peerId, Number(bytes));
    else if (this.remote?.forwards(peerId, jobId)) this.remote.ack(peerId, jobId, Number(bytes));
  }

  /** Local terminals answer at once; one on another server answers once that server did. */
  takeKeyboard(peerId: string, jobId: string): boolean | Promise<boolean> {
    const s = this.sessions.get(jobId);
    if (!s && this.remote?.forwards(peerId, jobId)) return this.remote.takeKeyboard(peerId, jobId);
    return s?.takeKeyboard(peerId) ?? false;
  }

  /** Whether `peerId` is attached to `jobId` (access was checked when it attached). */
  isAttached(peerId: string, jobId: string): boolean {
    return this.sessions.get(jobId)?.clients.has(peerId) ?? false;
  }

  private async ended(session: TerminalSession, final: Job) {
    session.job = final;
    session.end({ jobId: final.id, exitCode: final.exitCode, status: final.status });
    session.source.dispose();
    this.sessions.delete(final.id);
    this.log.info({ jobId: final.id, status: final.status, exitCode: final.exitCode }, 'terminal closed');
    await this.audit.record({
      type: 'job', action: 'terminal.close', userId: final.userId,
      metadata: { jobId: final.id, cwd: session.cwd, status: final.status, exitCode: final.exitCode },
    });
  }

  /** A shell other than the default: an absolute path listed in /etc/shells. */
  private async checkShell(shell: string): Promise<string> {
    if (!path.isAbsolute(shell)) throw validationFailed('shell must be an absolute path listed in /etc/shells');
    const listed = await fs.readFile(this.opts.shellsFile ?? '/etc/shells', 'utf8').catch(() => '');
    const shells = new Set(listed.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
    if (!shells.has(shell)) throw validationFailed(`${shell} is not listed in /etc/shells`);
    return shell;
  }
}

interface ParsedBody {
  type: 'terminal';
  cwd?: string;
  host?: string;
  vm?: string;
  target?: string;
  shell?: string;
  cols: number;
  rows: number;
  recordInput: boolean;
}

function parseBody(b: TerminalBody): ParsedBody {
  const optString = (v: unknown, name: string) => {
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string' || v.length > 4096) throw validationFailed(`${name} must be a string`);
    return v;
  };
  const host = optString(b.host, 'host');
  const vm = optString(b.vm, 'vm');
  if (host && vm) throw validationFailed('give host or vm, not both');
  if ((host || vm) && (b.cwd || b.target || b.shell)) throw validationFailed(`${host ? 'host' : 'vm'} opens a shell there: cwd, target and shell do not apply`);
  if (b.recordInput !== undefined && typeof b.recordInput !== 'boolean') throw validationFailed('recordInput must be true or false');
  const size = optionalSize(b);
  if ((b.cols !== undefined && !size.cols) || (b.rows !== undefined && !size.rows)) {
    throw validationFailed(`cols must be ${MIN_COLS}-${MAX_COLS} and rows ${MIN_ROWS}-${MAX_ROWS}`);
  }
  return {
    type: 'terminal',
    cwd: optString(b.cwd, 'cwd'),
    host,
    vm,
    target: optString(b.target, 'target'),
    shell: optString(b.shell, 'shell'),
    cols: size.cols ?? 80,
    rows: size.rows ?? 24,
    recordInput: b.recordInput === true,
  };
}

/** A terminal size from untrusted input: integers in range, or undefined. */
export function optionalSize(m: { cols?: unknown; rows?: unknown }): { cols?: number; rows?: number } {
  const cols = Number(m?.cols);
  const rows = Number(m?.rows);
  return {
    cols: Number.isInteger(cols) && cols >= MIN_COLS && cols <= MAX_COLS ? cols : undefined,
    rows: Number.isInteger(rows) && rows >= MIN_ROWS && rows <= MAX_ROWS ? rows : undefined,
  };
}

function formatMinutes(m: number) {
  return m >= 1 ? `${+m.toFixed(1)} min` : `${Math.round(m * 60)} s`;
}
