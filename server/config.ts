import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/**
 * The one place that reads process.env. Every variable is validated together so a bad
 * start names every wrong key at once instead of failing on the first.
 */
const intFrom = (def: number, min = 0) =>
  z.coerce.number().int().min(min).default(def);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: intFrom(3000).pipe(z.number().max(65535)),
  DATABASE_URL: z.string().url().optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  /**
   * As root only: where the embedded Postgres's binaries and data go when the `postgres` user
   * it runs as cannot reach the checkout or DATA_DIR (see server/platform/embedded-postgres/).
   */
  EMBEDDED_POSTGRES_DIR: z.string().min(1).default('/var/lib/vm-orchestrator').transform((p) => path.resolve(p)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** json for log shippers, pretty for people; auto picks pretty when stdout is a terminal. */
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters').optional(),
  /** Extra origins (scheme://host:port, comma separated) allowed besides the console's own. */
  ALLOWED_ORIGINS: z.string().default(''),
  SESSION_TTL_HOURS: intFrom(24 * 7, 1),
  /**
   * Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (Express "trust proxy"
   * values, comma separated: loopback, uniquelocal, 10.0.0.0/8 …; "false" trusts none).
   * They decide the client address the login throttle counts and whether cookies are Secure.
   */
  TRUST_PROXY: z.string().min(1).default('loopback'),
  /** Failed sign-ins a username, and one client address, may have before a lock. */
  LOGIN_MAX_FAILURES: intFrom(5, 1),
  LOGIN_MAX_FAILURES_PER_ADDRESS: intFrom(20, 1),
  /** First lock; each further failure doubles it up to LOGIN_LOCK_MAX_SECONDS. */
  LOGIN_LOCK_SECONDS: intFrom(30, 1),
  LOGIN_LOCK_MAX_SECONDS: intFrom(900, 1),
  /** Failures older than this are forgotten. */
  LOGIN_FAILURE_WINDOW_SECONDS: intFrom(900, 1),
  MKCLI_REGISTRY: z.string().default(path.join(os.homedir(), '.config', 'mkcli', 'registry')),
  ENVIRONMENTS_DIR: z.string().default('./environments'),
  /** The user's ssh client config; unset means ~/.ssh/config followed by /etc/ssh/ssh_config, as `ssh` reads them. */
  SSH_CONFIG: z.string().optional(),
  /** Connect + login deadline when a host's ssh config sets no ConnectTimeout. */
  SSH_CONNECT_TIMEOUT_SECONDS: intFrom(10, 1),
  /** Keepalive interval when a host's ssh config sets no ServerAliveInterval (0 = off). */
  SSH_KEEPALIVE_SECONDS: intFrom(15, 0),
  /** A dropped log stream reconnects this many times in a row before its job fails. */
  SSH_RECONNECT_ATTEMPTS: intFrom(5, 0),
  /** First reconnect delay; each further attempt doubles it, up to 30 s. */
  SSH_RECONNECT_DELAY_MS: intFrom(1000, 10),
  /** Lines a log preset (journalctl, docker logs, tail) shows from before the stream starts. */
  SSH_LOG_LINES: intFrom(100, 0),
  /** An SSH connection with no channel open closes after this long. */
  SSH_IDLE_SECONDS: intFrom(60, 1),
  /** Bytes of output a job keeps; past it the head and the tail are kept around a marker. */
  JOB_OUTPUT_CAP_BYTES: intFrom(256 * 1024 * 1024, 4096),
  JOB_CANCEL_GRACE_MS: intFrom(5000, 0),
  /** How long a job's writer keeps retrying an unreachable database before failing the job. */
  DB_OUTAGE_TIMEOUT_MS: intFrom(60_000, 100),
  TERMINAL_SHELL: z.string().default(process.env.SHELL || '/bin/bash'),
  /** A terminal with no attached browser tab ends after this long; fractional values allowed (0.5 = 30 s). */
  TERMINAL_IDLE_MINUTES: z.coerce.number().positive().default(30),
  /** Several servers on one database: each writes a heartbeat this often … */
  SERVER_HEARTBEAT_SECONDS: intFrom(5, 1),
  /** … and one silent this long is dead: a survivor marks its jobs interrupted. */
  SERVER_DEAD_SECONDS: intFrom(30, 2),
  /** Encrypts VM private keys at rest; every server on one database needs the same. Unset: DATA_DIR/server-secret, made on first start. */
  SERVER_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Where new VMs go unless an admin picks another: docker (local) or ovh (OVH Public Cloud). */
  VM_PROVIDER: z.enum(['docker', 'ovh']).default('docker'),
  /** Image for Docker VMs (any image that runs sshd); unset: the Debian image `npm run vm:image` builds. */
  VM_IMAGE: z.string().min(1).optional(),
  /** Login created in new VMs; unset: root for Docker VMs, debian for OVH ones. */
  VM_SSH_USER: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a Unix user name').optional(),
  /** Capacity of the local Docker host: creates past it are refused with the reason. */
  VM_CAPACITY_VMS: intFrom(10, 1),
  VM_CAPACITY_VCPUS: intFrom(os.cpus().length * 4, 1),
  VM_CAPACITY_MEMORY_MB: intFrom(Math.floor(os.totalmem() / 2 ** 20 / 2), 256),
  /** Operations carried out at once by each server: creates, and everything else. */
  VM_PROVISION_CONCURRENCY: intFrom(2, 1),
  VM_ACTION_CONCURRENCY: intFrom(5, 1),
  /** Attempts and first retry delay (doubling) for creates and for the other actions. */
  VM_PROVISION_ATTEMPTS: intFrom(3, 1),
  VM_PROVISION_RETRY_SECONDS: intFrom(5, 1),
  VM_ACTION_ATTEMPTS: intFrom(2, 1),
  VM_ACTION_RETRY_SECONDS: intFrom(2, 1),
  /** An attempt running longer is stopped and counts as failed. */
  VM_PROVISION_TIMEOUT_SECONDS: intFrom(900, 10),
  VM_ACTION_TIMEOUT_SECONDS: intFrom(300, 10),
  /** A server that stops sending heartbeats this long loses its operations to a live server. */
  VM_QUEUE_HEARTBEAT_SECONDS: intFrom(30, 10),
  /** How often the queue looks for expired or abandoned operations (seconds; unset = the queue's default). */
  VM_QUEUE_SUPERVISE_SECONDS: intFrom(0, 0),
  /** How often the database is compared with what the providers report. */
  VM_RECONCILE_SECONDS: intFrom(60, 1),
  /** A labelled machine no VM owns is destroyed after this long (it may be a create in flight). */
  VM_ORPHAN_GRACE_SECONDS: intFrom(300, 0),
  /** How often auto-stop and expiry are checked. */
  VM_LIFECYCLE_SECONDS: intFrom(60, 1),
  /** Minutes before an auto-stop or an expiry that its warning is sent. */
  VM_WARNING_MINUTES: intFrom(10, 0),
  /** Credits a new account starts with. */
  CREDITS_STARTING_GRANT: intFrom(100, 0),
  /** A provision that fails for good gives its credits back (true) or keeps them, as clouds do (false). */
  CREDITS_REFUND_ON_FAILURE: z.enum(['true', 'false', '1', '0']).default('true').transform((v) => v === 'true' || v === '1'),
  /** A hold not resolved within this long is voided by the sweeper. */
  CREDITS_HOLD_TTL_MINUTES: intFrom(120, 1),
  /** Runtime metering: credits per running hour by tier, e.g. `free:2,pro:1` (unset = off). */
  CREDITS_RUNTIME_RATES: z.string().regex(/^(\s*[a-z]+\s*:\s*\d+\s*)(,\s*[a-z]+\s*:\s*\d+\s*)*$|^$/, 'tier:credits pairs, comma separated').default('')
    .transform((v) => Object.fromEntries(v.split(',').filter((x) => x.trim()).map((x) => x.split(':').map((y) => y.trim())).map(([t, n]) => [t, Number(n)])) as Record<string, number>),
  /** How often the auditor recomputes the ledger's cached numbers. */
  CREDITS_AUDIT_MINUTES: intFrom(60, 1),
  OVH_ENDPOINT: z.string().url().default('https://eu.api.ovh.com/1.0'),
  OVH_APPLICATION_KEY: z.string().optional(),
  OVH_APPLICATION_SECRET: z.string().optional(),
  OVH_CONSUMER_KEY: z.string().optional(),
  /** The Public Cloud project id. */
  OVH_SERVICE_NAME: z.string().optional(),
  OVH_REGION: z.string().default('GRA11'),
  OVH_IMAGE: z.string().default('Debian 12'),
  /** How often an instance is re-read while waiting for it to build, start or stop. */
  OVH_POLL_MS: intFrom(5000, 10),
});

export type Config = z.infer<typeof schema> & { allowedOrigins: string[]; dataDir: string; trustProxy: false | string[] };

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset" (a common shell habit: DATABASE_URL= npm start).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  const allowedOrigins = c.ALLOWED_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean);
  const badOrigins = allowedOrigins.filter((o) => !/^https?:\/\/[^/]+$/.test(o));
  if (badOrigins.length) {
    throw new ConfigError(
      `Invalid configuration:\n  ALLOWED_ORIGINS: not an origin (scheme://host[:port]): ${badOrigins.join(', ')}`,
    );
  }
  const trustProxy = trustProxySetting(c.TRUST_PROXY);
  const badProxies = (trustProxy || []).filter((p) => !isProxyRange(p));
  if (badProxies.length) {
    throw new ConfigError(
      `Invalid configuration:\n  TRUST_PROXY: not an address, subnet or loopback/linklocal/uniquelocal: ${badProxies.join(', ')}`,
    );
  }
  return { ...c, allowedOrigins, dataDir: path.resolve(c.DATA_DIR), trustProxy };
}

/** Express's "trust proxy": false, or the list of trusted addresses and subnets. */
function trustProxySetting(value: string): false | string[] {
  if (['false', 'none', '0'].includes(value.trim().toLowerCase())) return false;
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

function isProxyRange(value: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(value)) return true;
  const [address, bits, extra] = value.split('/');
  if (extra !== undefined || !net.isIP(address)) return false;
  return bits === undefined || /^\d{1,3}$/.test(bits);
}
