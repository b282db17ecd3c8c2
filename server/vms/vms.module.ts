import type { Config } from '../config.ts';
import type { InventoryService } from '../inventory/inventory.service.ts';
import type { JobRepository } from '../jobs/job.repository.ts';
import type { JobRunner } from '../jobs/job-runner.ts';
import type { AuditLog } from '../platform/audit.ts';
import type { Db } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { loadServerSecret } from '../platform/server-secret.ts';
import { loadDockerode } from '../providers/docker/docker-client.ts';
import { DockerProvider } from '../providers/docker/docker.provider.ts';
import { DEFAULT_VM_IMAGE } from '../providers/docker/vm-image.ts';
import { OvhClient } from '../providers/ovh/ovh-client.ts';
import { OvhProvider } from '../providers/ovh/ovh.provider.ts';
import { ProviderRegistry, type RegisteredProvider } from '../providers/provider-registry.ts';
import type { SshPool } from '../ssh/ssh-pool.ts';
import type { Vm } from '../../src/lib/shared/vms.ts';
import { AdmissionChain, DockerCapacity } from './vm-admission.ts';
import { IdempotencyKeys } from './idempotency-keys.ts';
import { VmAccessService } from './vm-access.service.ts';
import { VmKeyVault } from './vm-keys.ts';
import { VmLifecycle } from './vm-lifecycle.ts';
import { CreditAdmission } from '../credits/credit-admission.ts';
import { creditRoutes } from '../credits/credits.routes.ts';
import { CreditsService } from '../credits/credits.service.ts';
import { LedgerRepository } from '../credits/ledger.repository.ts';
import { limitsFor } from '../credits/tiers.ts';
import { VmQueue } from './vm-queue.ts';
import { VmReconciler } from './vm-reconciler.ts';
import { VmViews } from './vm-view.ts';
import { VmWorker } from './vm-worker.ts';
import { VmRepository } from './vm.repository.ts';
import { VmService } from './vm.service.ts';
import { vmRoutes } from './vms.routes.ts';

export interface VmDeps {
  config: Config;
  db: Db;
  /** pg-boss opens its own connections. */
  databaseUrl: string;
  jobRepo: JobRepository;
  runner: JobRunner;
  audit: AuditLog;
  log: Logger;
  pool: SshPool;
  inventory: InventoryService;
  /** Sends a VM's new view to its owner's and the administrators' sockets. */
  publish(vm: Vm): void;
}

/** Sizes a create may ask for (the ledger's tier quotas narrow them per user). */
const SIZE_LIMITS = { vcpus: [1, 16] as [number, number], memoryMb: [256, 65536] as [number, number], diskGb: [1, 500] as [number, number] };

/**
 * Wires the VM engine: providers, the queue and its workers, admission, the reconciler and
 * the lifecycle sweeper, VM access over SSH, and the routes. Starting it starts the queue's
 * workers and the periodic passes; `close` stops them, letting running operations finish.
 */
export async function createVms(d: VmDeps) {
  const c = d.config;
  const log = d.log.child({ module: 'vms' });
  const consoleId = await consoleIdentity(d.db);
  const vms = new VmRepository(d.db);
  const vault = new VmKeyVault(loadServerSecret(c.SERVER_SECRET, c.dataDir));
  const providers = new ProviderRegistry(registeredProviders(c, consoleId), c.VM_PROVIDER);
  const views = new VmViews(d.db, (p) => providers.billedWhenStopped(p));
  const publish = (vmId: string) => {
    void (async () => {
      const row = await vms.get(vmId);
      if (row) d.publish(await views.one(row));
    })().catch((err) => log.warn({ vmId, err: (err as Error).message }, 'could not publish a VM update'));
  };
  const sshUser = (provider: string) => c.VM_SSH_USER ?? (provider === 'ovh' ? 'debian' : 'root');
  const capacity = new DockerCapacity({ maxVms: c.VM_CAPACITY_VMS, vcpus: c.VM_CAPACITY_VCPUS, memoryMb: c.VM_CAPACITY_MEMORY_MB });
  const ledger = new LedgerRepository(d.db);
  const credits = new CreditsService(d.db, ledger, d.audit, log.child({ module: 'credits' }), {
    startingGrant: c.CREDITS_STARTING_GRANT, refundOnFailure: c.CREDITS_REFUND_ON_FAILURE,
    runtimeRates: c.CREDITS_RUNTIME_RATES, runtimeGraceMs: c.VM_WARNING_MINUTES * 60_000,
  });
  // Credits and quotas first (the user's own row lock), then this host's capacity.
  const admission = new AdmissionChain([new CreditAdmission(ledger, { holdTtlMinutes: c.CREDITS_HOLD_TTL_MINUTES }, (id) => credits.ensure(id), d.audit), capacity]);
  const retry = {
    provision: { limit: c.VM_PROVISION_ATTEMPTS, delaySeconds: c.VM_PROVISION_RETRY_SECONDS },
    other: { limit: c.VM_ACTION_ATTEMPTS, delaySeconds: c.VM_ACTION_RETRY_SECONDS },
  };

  // The worker closes SSH connections through the access service, which is built later
  // (it needs the service, which needs the queue, which needs the worker).
  const late: { access?: VmAccessService } = {};
  const worker = new VmWorker(vms, providers, d.runner, vault, d.audit, {
    changed: publish,
    disconnect: (vmId) => late.access?.disconnect(vmId),
    settled: credits.settled,
  }, log, {
    sshUser,
    retryDelaySeconds: (action) => (action === 'create' ? retry.provision.delaySeconds : retry.other.delaySeconds),
  });
  const queue = new VmQueue(d.databaseUrl, worker.handlers, log, {
    retry,
    concurrency: { provision: c.VM_PROVISION_CONCURRENCY, other: c.VM_ACTION_CONCURRENCY },
    timeoutSeconds: { provision: c.VM_PROVISION_TIMEOUT_SECONDS, other: c.VM_ACTION_TIMEOUT_SECONDS },
    heartbeatSeconds: c.VM_QUEUE_HEARTBEAT_SECONDS,
    superviseSeconds: c.VM_QUEUE_SUPERVISE_SECONDS || undefined,
    pollSeconds: 1,
  });
  const service = new VmService(d.db, vms, d.jobRepo, queue, d.audit, admission, {
    defaultProvider: c.VM_PROVIDER,
    hasProvider: (name) => providers.has(name),
    assertUsable: async (name) => void (await providers.assertUsable(name)),
    sshUser,
    lifecycleFor: (user) => {
      const l = limitsFor(user.tier);
      return { autoStopMinutes: l.autoStopMinutes, lifetimeHours: l.lifetimeHours };
    },
    limits: SIZE_LIMITS,
    onForceDestroyed: (vm) => credits.settled(vm, 'destroy', 'succeeded'),
  });
  const access = new VmAccessService(service, vms, vault, d.pool, d.runner, d.jobRepo, d.audit, log, {
    attempts: 0, baseDelayMs: 1000, maxDelayMs: 1000,
  });
  late.access = access;
  const stopUnpaid = async (vmId: string, reason: string) => {
    await service.request({ system: reason }, vmId, 'stop').catch((err) => log.warn({ vmId, err: (err as Error).message }, 'could not stop an unpaid VM'));
  };
  const reconciler = new VmReconciler(d.db, vms, providers, d.audit, publish, log, { orphanGraceMs: c.VM_ORPHAN_GRACE_SECONDS * 1000 });
  const lifecycle = new VmLifecycle(d.db, vms, service, d.audit, publish, log, { warningMs: c.VM_WARNING_MINUTES * 60_000 });

  await queue.start();
  const timers = [
    every(c.VM_RECONCILE_SECONDS * 1000, () => reconciler.reconcile(), log, 'reconcile'),
    every(c.VM_LIFECYCLE_SECONDS * 1000, () => lifecycle.sweep(), log, 'lifecycle sweep'),
    every(c.VM_LIFECYCLE_SECONDS * 1000, () => credits.meter(stopUnpaid), log, 'runtime metering'),
    every(60_000, () => credits.sweep(), log, 'hold sweep'),
    // Idempotency-Keys are kept at least 24 h (here 48 h) and then forgotten.
    every(3_600_000, () => new IdempotencyKeys().prune(d.db, 48), log, 'idempotency key prune'),
    every(c.CREDITS_AUDIT_MINUTES * 60_000, () => credits.runAudit(), log, 'credit audit'),
  ];
  // At start: settle what a previous server left, without delaying the listen.
  void reconciler.reconcile().catch((err) => log.warn({ err: (err as Error).message }, 'first reconcile failed'));

  const routes = vmRoutes({
    db: d.db, vms, service, access, views, providers, capacity, queue, reconciler, inventory: d.inventory, limits: SIZE_LIMITS,
    images: () => (c.VM_IMAGE ? [c.VM_IMAGE] : [DEFAULT_VM_IMAGE]),
  });

  return {
    routes: [routes, creditRoutes(credits)],
    credits,
    stopUnpaid,
    service,
    access,
    reconciler,
    lifecycle,
    providers,
    admission,
    vmShells: access.shell,
    async close() {
      for (const t of timers) clearInterval(t);
      await queue.stop();
    },
  };
}

function registeredProviders(c: Config, consoleId: string): Map<string, RegisteredProvider> {
  const out = new Map<string, RegisteredProvider>();
  const Docker = loadDockerode();
  const docker = new DockerProvider({ docker: new Docker(), image: c.VM_IMAGE, consoleId });
  out.set('docker', { provider: docker, billedWhenStopped: false, notEnforced: () => docker.notEnforced() });
  const ovhWanted = c.VM_PROVIDER === 'ovh' || !!(c.OVH_APPLICATION_KEY || c.OVH_CONSUMER_KEY || c.OVH_SERVICE_NAME);
  if (ovhWanted) {
    const client = new OvhClient({
      endpoint: c.OVH_ENDPOINT,
      credentials: {
        applicationKey: c.OVH_APPLICATION_KEY ?? '',
        applicationSecret: c.OVH_APPLICATION_SECRET ?? '',
        consumerKey: c.OVH_CONSUMER_KEY ?? '',
      },
    });
    const ovh = new OvhProvider({
      client,
      serviceName: c.OVH_SERVICE_NAME ?? '',
      region: c.OVH_REGION,
      defaultImage: c.OVH_IMAGE,
      pollMs: c.OVH_POLL_MS,
      createTimeoutMs: c.VM_PROVISION_TIMEOUT_SECONDS * 1000,
      actionTimeoutMs: c.VM_ACTION_TIMEOUT_SECONDS * 1000,
      namePrefix: `vmo-${consoleId.slice(0, 8)}-`,
    });
    out.set('ovh', { provider: ovh, billedWhenStopped: true });
  }
  return out;
}

async function consoleIdentity(db: Db): Promise<string> {
  const { rows } = await db.query('SELECT id FROM console_identity LIMIT 1');
  return rows[0].id;
}

function every(ms: number, fn: () => Promise<unknown>, log: Logger, what: string): NodeJS.Timeout {
  const t = setInterval(() => void fn().catch((err) => log.warn({ err: (err as Error).message }, `${what} failed`)), ms);
  t.unref();
  return t;
}
