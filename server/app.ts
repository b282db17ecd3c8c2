import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';
import type { Config } from './config.ts';
import type { Job } from '../src/lib/shared/jobs.ts';
import { AuditLog } from './platform/audit.ts';
import { auditRoutes } from './platform/audit.routes.ts';
import { AuthRepository } from './platform/auth/auth.repository.ts';
import { authRoutes } from './platform/auth/auth.routes.ts';
import { AuthService } from './platform/auth/auth.service.ts';
import { LoginThrottle } from './platform/auth/login-throttle.ts';
import type { Db } from './platform/db.ts';
import { notFound } from './platform/errors.ts';
import { healthRoutes } from './platform/http/health.routes.ts';
import { securityHeaders } from './platform/http/security-headers.ts';
import { authenticate, errorHandler, originGuard, requireUser } from './platform/http/middleware.ts';
import type { Logger } from './platform/logger.ts';
import { createSocketServer, disconnectEndedSockets, socketAuth } from './platform/socket.ts';
import { EventRepository } from './events/event.repository.ts';
import { EventWriter } from './events/event-writer.ts';
import { JobStreamHub } from './events/job-stream.hub.ts';
import { JobRepository } from './jobs/job.repository.ts';
import { JobRunner } from './jobs/job-runner.ts';
import { JobService } from './jobs/job.service.ts';
import { jobRoutes } from './jobs/jobs.routes.ts';
import { registerJobSockets, type JobsNamespace } from './jobs/jobs.socket.ts';
import { ProjectRepository } from './projects/project.repository.ts';
import { ProjectsService } from './projects/projects.service.ts';
import { projectRoutes } from './projects/projects.routes.ts';
import { PipeSupply } from './sources/pipe-supply.ts';
import { ProcessLauncher } from './sources/process-launcher.ts';
import { createSsh } from './ssh/ssh.module.ts';
import { createTerminals } from './terminals/terminals.module.ts';
import { createVms } from './vms/vms.module.ts';
import { joinCluster } from './cluster/cluster.module.ts';
import { clusterRoutes } from './cluster/cluster.routes.ts';
import { RemoteTerminals } from './cluster/remote-terminals.ts';
import { ServerRegistry } from './cluster/server-registry.ts';
import { createSocketBus } from './cluster/socket-bus.ts';
import { PROJECT_ROOT } from './platform/project-root.ts';

export const VERSION: string = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).version;

export interface AppDeps {
  config: Config;
  db: Db;
  log: Logger;
  /** For the VM engine's queue (pg-boss opens its own connections); without it VMs are off (404). */
  databaseUrl?: string;
  /** Serve the built SvelteKit UI (off in API-only tests). */
  serveUi?: boolean;
}

/** Composition root: builds every service with its dependencies and mounts routes and sockets. */
export async function createApp({ config, db, log, databaseUrl, serveUi = true }: AppDeps) {
  const audit = new AuditLog(db, log.child({ module: 'audit' }));
  const throttle = new LoginThrottle(db, {
    maxFailuresPerUser: config.LOGIN_MAX_FAILURES,
    maxFailuresPerAddress: config.LOGIN_MAX_FAILURES_PER_ADDRESS,
    lockSeconds: config.LOGIN_LOCK_SECONDS,
    lockMaxSeconds: config.LOGIN_LOCK_MAX_SECONDS,
    windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
  });
  const auth = new AuthService(new AuthRepository(db), audit, log.child({ module: 'auth' }), {
    sessionTtlHours: config.SESSION_TTL_HOURS, throttle,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.use(securityHeaders());
  const httpServer = http.createServer(app);
  const socketBus = databaseUrl ? createSocketBus(databaseUrl, log.child({ module: 'socket-bus' })) : null;
  const io = createSocketServer(httpServer, config.allowedOrigins, log.child({ module: 'socket' }), socketBus?.adapter);
  socketBus?.introduce(io);
  const registry = new ServerRegistry(db, log.child({ module: 'servers' }), {
    heartbeatSeconds: config.SERVER_HEARTBEAT_SECONDS, deadSeconds: config.SERVER_DEAD_SECONDS,
  });

  const jobsNsp = io.of('/jobs') as JobsNamespace;
  jobsNsp.use(socketAuth(auth));

  const projects = new ProjectsService(new ProjectRepository(db), config.MKCLI_REGISTRY, audit, log.child({ module: 'projects' }));
  const eventRepo = new EventRepository(db);
  const jobRepo = new JobRepository(db, { id: registry.id, machine: registry.machine });
  const hub = new JobStreamHub(eventRepo, log.child({ module: 'job-stream' }));
  let notifyJob: (job: Job) => void = () => {};
  const runner = new JobRunner(jobRepo, new EventWriter(eventRepo), hub, (job) => notifyJob(job), {
    capBytes: config.JOB_OUTPUT_CAP_BYTES,
    cancelGraceMs: config.JOB_CANCEL_GRACE_MS,
    outageTimeoutMs: config.DB_OUTAGE_TIMEOUT_MS,
  }, log.child({ module: 'jobs' }));
  const pipes = new PipeSupply(log.child({ module: 'jobs' }));
  const launcher = new ProcessLauncher(pipes, log.child({ module: 'jobs' }));
  launcher.prepare();
  const jobs = new JobService(jobRepo, eventRepo, runner, projects, audit, launcher);
  notifyJob = registerJobSockets(jobsNsp, jobs, hub).updated;
  const cluster = await joinCluster({
    config, registry, jobsNsp: jobsNsp as never, hub, jobs, jobRepo, runner, log, discovering: socketBus?.discovering,
  });
  const ssh = createSsh({ config, db, jobs, jobRepo, runner, audit, log });
  const vms = databaseUrl
    ? await createVms({
      config, db, databaseUrl, jobRepo, runner, audit, log, pool: ssh.pool, inventory: ssh.inventory,
      publish: (vm) => jobsNsp.to(vm.ownerId ? ['admins', `user:${vm.ownerId}`] : ['admins']).emit('vm:updated', { vm }),
    })
    : null;
  const terminals = createTerminals({
    config, io, auth, jobs, jobRepo, eventRepo, runner, projects, audit, log: log.child({ module: 'terminals' }),
    remoteShells: ssh.remoteShells,
    vmShells: vms?.vmShells,
  });

  // Tabs on this server reach terminals of the others, and theirs reach ours.
  const remoteTerminals = new RemoteTerminals(io.of('/terminals'), registry.id, terminals.service, log.child({ module: 'cluster' }));
  terminals.service.connectRemote(remoteTerminals);
  hub.onEnded((done) => remoteTerminals.jobEnded(done));

  auth.onAccessEnded((e) => {
    if (!e.otherSessionsThan) terminals.service.revokeUser(e.userId, e.reason);
    void disconnectEndedSockets(io, e).catch((err) => log.warn({ err: (err as Error).message }, 'could not disconnect ended sessions'));
  });

  const api = express.Router();
  api.use(express.json({ limit: '1mb' }));
  api.use(originGuard(config.allowedOrigins));
  api.use(healthRoutes(db, VERSION));
  api.use(authenticate(auth));
  api.use(authRoutes(auth));
  // Everything below needs a signed-in user; login and health are above.
  api.use(requireUser);
  api.use(projectRoutes(projects));
  api.use(terminals.routes);
  api.use(...ssh.routes);
  if (vms) api.use(...vms.routes);
  api.use(jobRoutes(jobs, eventRepo));
  api.use(auditRoutes(audit));
  api.use(clusterRoutes(registry));
  api.use((_req, _res, next) => next(notFound('API route')));
  api.use(errorHandler(log));
  app.use('/api', api);

  if (serveUi) await mountUi(app, log);

  // The VM queue first (no new operations start), then jobs (they close their channels
  // cleanly), then the SSH connections under them.
  const stoppers: Array<() => Promise<void>> = [
    async () => vms?.close(), () => runner.shutdown(), async () => launcher.close(), async () => pipes.close(), async () => ssh.close(), () => cluster.close(),
  ];
  return {
    app,
    serverId: registry.id,
    httpServer,
    io,
    auth,
    audit,
    jobs,
    runner,
    projects,
    terminals: terminals.service,
    ssh,
    vms,
    listen(port: number, host: string) {
      return new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          const bound = httpServer.address() as AddressInfo;
          void registry.setAddress(`${host}:${bound.port}`).catch(() => {});
          resolve();
        });
      });
    },
    async close() {
      for (const stop of stoppers) await stop();
      io.close();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await socketBus?.close();
    },
  };
}

async function mountUi(app: express.Express, log: Logger) {
  const handlerPath = path.join(PROJECT_ROOT, 'build', 'handler.js');
  if (!fs.existsSync(handlerPath)) {
    log.warn('UI build not found (run `npm run build`); serving the API only');
    app.get('/', (_req, res) => res.type('text').send('vm-orchestrator API is running; build the UI with `npm run build`.'));
    return;
  }
  const { handler } = await import(pathToFileURL(handlerPath).href);
  app.use(handler);
}
