import type { Environment, InventoryHost, ResolvedSsh } from '../../src/lib/shared/inventory.ts';
import { AppError, notFound, validationFailed } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import { planRoute, lookupNameOf, type SshPlan } from '../ssh/ssh-plan.ts';
import type { EnvironmentsSnapshot, EnvironmentsSource } from './environments.source.ts';
import type { HostRepository, HostRow } from './host.repository.ts';
import { resolveSshConfig as resolveRaw, SshConfigError, type ResolvedSshConfig, type SshConfigContext } from './ssh-config.ts';

/** A config OpenSSH itself would refuse is the user's to fix: a 400 naming file:line, not a 500. */
async function configErrorsAsBadRequest<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SshConfigError) throw new AppError(400, 'ssh_config_invalid', `The ssh config cannot be used: ${err.message}`);
    throw err;
  }
}

const resolveSshConfig = (alias: string, ctx: SshConfigContext) => configErrorsAsBadRequest(() => resolveRaw(alias, ctx));

/** vm-config's default login when neither config.yml nor the ssh config names one. */
export const DEFAULT_VM_USER = 'ubuntu';

/**
 * The inventory: environments read from disk (re-read when a file changes), their hosts
 * synced into Postgres (where jobs refer to them), and each host's effective SSH settings.
 * A broken config.yml is reported and its hosts from the last good read stay as they are,
 * so a typo never makes hosts vanish; a deleted environment folder removes its hosts from
 * lists (their rows and jobs stay).
 */
export class InventoryService {
  private syncedSignature: string | null = null;
  private syncing: Promise<EnvironmentsSnapshot> | null = null;
  private lastSnapshot: EnvironmentsSnapshot | null = null;
  /** The template of each environment's last good read, shown while its file is broken. */
  private readonly lastGoodTemplate = new Map<string, string | null>();

  constructor(
    private readonly source: EnvironmentsSource,
    private readonly hosts: HostRepository,
    private readonly sshContext: () => SshConfigContext,
    private readonly log: Logger,
  ) {}

  get dir(): string {
    return this.source.dir;
  }

  /** Re-reads the folder and syncs hosts when anything changed; concurrent callers share one pass. */
  refresh(): Promise<EnvironmentsSnapshot> {
    this.syncing ??= this.doRefresh().finally(() => (this.syncing = null));
    return this.syncing;
  }

  async environments(): Promise<{ dir: string; exists: boolean; environments: Environment[] }> {
    const snap = await this.refresh();
    const rows = await this.hosts.listActive();
    const byEnv = new Map<string, HostRow[]>();
    for (const r of rows) byEnv.set(r.environment, [...(byEnv.get(r.environment) ?? []), r]);
    const environments = await Promise.all(snap.environments.map(async (e) => ({
      name: e.name,
      template: e.error ? (this.lastGoodTemplate.get(e.name) ?? null) : e.template,
      vms: await Promise.all((byEnv.get(e.name) ?? []).map((r) => this.describe(r))),
      ...(e.error ? { error: e.error } : {}),
    })));
    return { dir: snap.dir, exists: snap.exists, environments };
  }

  /** A host by id or `environment/name`; removed hosts only when `includeRemoved` (history). */
  async host(ref: string, includeRemoved = false): Promise<HostRow> {
    await this.refresh();
    const slash = ref.indexOf('/');
    const row = slash > 0 ? await this.hosts.getByName(ref.slice(0, slash), ref.slice(slash + 1)) : await this.hosts.get(ref);
    if (!row || (row.removedAt && !includeRemoved)) throw notFound('Host');
    return row;
  }

  /** The host as listed: user and port as they will be used. */
  async describe(row: HostRow): Promise<InventoryHost> {
    let user = row.user ?? DEFAULT_VM_USER;
    let port = row.port ?? 22;
    try {
      const c = await this.resolveRow(row);
      user = c.user;
      port = c.port;
    } catch {
      // The ssh config cannot be read: show config.yml's values; the host page says why.
    }
    return { id: row.id, environment: row.environment, name: row.name, host: row.host, user, port, vars: row.vars };
  }

  /** How to connect to a host: its route through any jump hosts, each hop resolved. */
  async route(row: HostRow): Promise<SshPlan> {
    const ctx = this.sshContext();
    return (await this.routed(row, ctx)).plan;
  }

  /** A host's route and its target's effective settings, with config.yml's part in the sources: one resolution for a host page. */
  async settings(row: HostRow): Promise<{ plan: SshPlan; resolved: ResolvedSshConfig }> {
    const { plan, defaultUser } = await this.routed(row, this.sshContext());
    return { plan, resolved: withConfigYmlSources(plan.target.config, row, defaultUser) };
  }

  /** vm-config's default user is applied like -l (so `Match user` and %r see it) when neither config.yml nor the ssh config names one. */
  private routed(row: HostRow, ctx: SshConfigContext): Promise<{ plan: SshPlan; defaultUser: boolean }> {
    return configErrorsAsBadRequest(async () => {
      const plan = await planRoute(row.host, ctx, this.overrides(row));
      if (row.user || plan.target.config.sources.user) return { plan, defaultUser: false };
      return { plan: await planRoute(row.host, ctx, { ...this.overrides(row), user: DEFAULT_VM_USER }), defaultUser: true };
    });
  }

  /** The route to an ssh config alias or host name that is not in an environment (known-hosts admin). */
  routeAlias(alias: string, port?: number): Promise<SshPlan> {
    return configErrorsAsBadRequest(() => planRoute(alias, this.sshContext(), port ? { port } : {}));
  }

  /** Effective settings for a host (config.yml's user and port act like `ssh -l` / `-p`). */
  async resolveRow(row: HostRow): Promise<ResolvedSshConfig> {
    const ctx = this.sshContext();
    const c = await resolveSshConfig(row.host, { ...ctx, ...this.overrides(row) });
    if (row.user || c.sources.user) return withConfigYmlSources(c, row, false);
    // vm-config's default user, applied like -l so `Match user` and %r see it.
    return withConfigYmlSources(await resolveSshConfig(row.host, { ...ctx, ...this.overrides(row), user: DEFAULT_VM_USER }), row, true);
  }

  /** `GET /api/ssh/resolve`: an alias of the ssh config, as `ssh -G alias` would show it. */
  async resolveAlias(alias: string): Promise<ResolvedSsh> {
    if (!alias || alias.length > 255 || /\s|^-/.test(alias)) throw validationFailed('host must be an ssh config alias or a host name');
    return toResolved(await resolveSshConfig(alias, this.sshContext()));
  }

  toResolved(c: ResolvedSshConfig): ResolvedSsh {
    return toResolved(c);
  }

  private overrides(row: HostRow): { user?: string; port?: number } {
    return { ...(row.user ? { user: row.user } : {}), ...(row.port ? { port: row.port } : {}) };
  }

  private async doRefresh(): Promise<EnvironmentsSnapshot> {
    let snap: EnvironmentsSnapshot;
    try {
      snap = await this.source.read();
    } catch (err) {
      this.log.warn({ err: (err as Error).message, dir: this.source.dir }, 'cannot read the environments folder');
      return this.lastSnapshot ?? { dir: this.source.dir, exists: false, environments: [], signature: 'unreadable' };
    }
    if (snap.signature !== this.syncedSignature) {
      for (const env of snap.environments) {
        if (!env.error) {
          await this.hosts.syncEnvironment(env.name, env.hosts);
          this.lastGoodTemplate.set(env.name, env.template);
        }
        else this.log.warn({ file: env.error.file, line: env.error.line, error: env.error.message }, 'environment not loaded');
      }
      // A broken file's folder still exists: its hosts stay. Only a gone folder removes them.
      await this.hosts.removeEnvironmentsExcept(snap.environments.map((e) => e.name));
      this.syncedSignature = snap.signature;
    }
    this.lastSnapshot = snap;
    return snap;
  }
}

function withConfigYmlSources(c: ResolvedSshConfig, row: HostRow, defaultUser: boolean): ResolvedSshConfig {
  const sources = { ...c.sources };
  const file = `${row.environment}/config.yml`;
  if (row.user) sources.user = `${file} (ansible_user)`;
  else if (defaultUser) sources.user = `default for environments (${DEFAULT_VM_USER})`;
  if (row.port) sources.port = `${file} (port)`;
  return { ...c, sources };
}

/** The API shape: the resolver's result plus the name host keys are looked up under. */
function toResolved(c: ResolvedSshConfig): ResolvedSsh {
  return { ...c, knownHostsName: lookupNameOf(c) };
}
