import type { Config } from '../config.ts';
import type { Db } from '../platform/db.ts';
import type { AuditLog } from '../platform/audit.ts';
import type { Logger } from '../platform/logger.ts';
import { EnvironmentsSource } from '../inventory/environments.source.ts';
import { HostRepository } from '../inventory/host.repository.ts';
import { InventoryService } from '../inventory/inventory.service.ts';
import { inventoryRoutes } from '../inventory/inventory.routes.ts';
import { defaultSshConfigContext } from '../inventory/ssh-config.ts';
import type { JobRepository } from '../jobs/job.repository.ts';
import type { JobRunner } from '../jobs/job-runner.ts';
import type { JobService } from '../jobs/job.service.ts';
import { HostKeyTrust } from './host-key-trust.ts';
import { KnownHostsService } from './known-hosts.service.ts';
import { knownHostsRoutes } from './known-hosts.routes.ts';
import { SshConnector } from './ssh-connector.ts';
import { SshJobService } from './ssh-jobs.service.ts';
import { KeyStore } from './ssh-keys.ts';
import { SshPool } from './ssh-pool.ts';

export interface SshDeps {
  config: Config;
  db: Db;
  jobs: JobService;
  jobRepo: JobRepository;
  runner: JobRunner;
  audit: AuditLog;
  log: Logger;
}

/** How often the environments folder is looked at for edits (reads on requests see them at once too). */
const INVENTORY_POLL_MS = 3000;

/**
 * Wires remote hosts: the inventory (environments + ssh config), host-key trust, the
 * connection pool, the `ssh` job type, and SSH shells for the terminals feature.
 */
export function createSsh(d: SshDeps) {
  const c = d.config;
  const hosts = new HostRepository(d.db);
  // Read anew for each resolution: an edit of ~/.ssh/config applies to the next connection.
  const sshContext = () => defaultSshConfigContext(c.SSH_CONFIG);
  const inventory = new InventoryService(new EnvironmentsSource(c.ENVIRONMENTS_DIR), hosts, sshContext, d.log.child({ module: 'inventory' }));
  const trust = new HostKeyTrust(hosts);
  const keys = new KeyStore();
  const connector = new SshConnector(trust, keys, {
    connectTimeoutMs: c.SSH_CONNECT_TIMEOUT_SECONDS * 1000,
    keepaliveMs: c.SSH_KEEPALIVE_SECONDS * 1000,
    agentSocket: process.env.SSH_AUTH_SOCK,
  });
  const pool = new SshPool(connector, { idleMs: c.SSH_IDLE_SECONDS * 1000, maxLeases: 8 }, d.log.child({ module: 'ssh-pool' }));
  const knownHosts = new KnownHostsService(hosts, trust, connector, inventory, d.audit, (name) => pool.closeThrough(name));
  const sshJobs = new SshJobService(inventory, pool, d.runner, d.jobRepo, d.audit, d.log.child({ module: 'ssh' }), {
    initialLines: c.SSH_LOG_LINES,
    reconnect: { attempts: c.SSH_RECONNECT_ATTEMPTS, baseDelayMs: c.SSH_RECONNECT_DELAY_MS, maxDelayMs: 30_000 },
  });
  d.jobs.registerStarter('ssh', sshJobs.start);

  // Edits on disk reach the database (and so every server) without anyone opening a page.
  const poll = setInterval(() => void inventory.refresh().catch(() => {}), INVENTORY_POLL_MS);
  poll.unref();
  void inventory.refresh().catch((err) => d.log.warn({ err: (err as Error).message }, 'could not read the environments'));

  return {
    inventory,
    knownHosts,
    pool,
    keys,
    remoteShells: sshJobs.remoteShell,
    routes: [inventoryRoutes(inventory, knownHosts, pool), knownHostsRoutes(knownHosts, keys, d.audit)],
    close() {
      clearInterval(poll);
      pool.closeAll();
    },
  };
}
