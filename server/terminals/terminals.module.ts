import type { Server } from 'socket.io';
import type { Config } from '../config.ts';
import type { EventRepository } from '../events/event.repository.ts';
import type { JobRepository } from '../jobs/job.repository.ts';
import type { JobRunner } from '../jobs/job-runner.ts';
import type { JobService } from '../jobs/job.service.ts';
import type { AuditLog } from '../platform/audit.ts';
import type { AuthService } from '../platform/auth/auth.service.ts';
import { resolveUser } from '../platform/http/middleware.ts';
import type { Logger } from '../platform/logger.ts';
import { socketAuth } from '../platform/socket.ts';
import type { ProjectsService } from '../projects/projects.service.ts';
import { TerminalService, type RemoteShellFactory } from './terminal.service.ts';
import { terminalRoutes } from './terminals.routes.ts';
import { registerTerminalSockets, type TerminalsNamespace } from './terminals.socket.ts';

export interface TerminalDeps {
  config: Config;
  io: Server;
  auth: AuthService;
  jobs: JobService;
  jobRepo: JobRepository;
  eventRepo: EventRepository;
  runner: JobRunner;
  projects: ProjectsService;
  audit: AuditLog;
  log: Logger;
  /** SSH shells (`{ type: "terminal", host }`), from the remote-hosts feature. */
  remoteShells?: RemoteShellFactory;
  vmShells?: RemoteShellFactory;
}

/** Wires the terminals feature: the `terminal` job type, the /terminals namespace and its routes. */
export function createTerminals(d: TerminalDeps) {
  const service = new TerminalService(d.jobs, d.jobRepo, d.runner, d.projects, d.audit, d.log, {
    shell: d.config.TERMINAL_SHELL,
    idleMinutes: d.config.TERMINAL_IDLE_MINUTES,
    remoteShells: d.remoteShells,
    vmShells: d.vmShells,
  });
  d.jobs.registerStarter('terminal', service.start);
  d.auth.onUserChanged((user) => service.revokeIfDenied(user));
  const nsp = d.io.of('/terminals') as TerminalsNamespace;
  nsp.use(socketAuth(d.auth));
  registerTerminalSockets(nsp, service, async (socket) => {
    const h = socket.handshake;
    const token = (h.auth as { token?: unknown } | undefined)?.token;
    return (await resolveUser(d.auth, h.headers.cookie, h.headers.authorization, token)).user;
  });
  return { service, routes: terminalRoutes(service, d.jobs, d.jobRepo, d.eventRepo) };
}
