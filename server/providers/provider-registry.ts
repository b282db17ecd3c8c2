import type { VmProviderInfo } from '../../src/lib/shared/vms.ts';
import { AppError } from '../platform/errors.ts';
import type { VmProvider } from './provider.ts';

/** What the registry knows about a provider besides the interface. */
export interface RegisteredProvider {
  provider: VmProvider;
  /** A stopped machine still costs money there (OVH bills SHUTOFF instances). */
  billedWhenStopped: boolean;
  /** Limits it cannot enforce, known before any create. */
  notEnforced?: () => Promise<string[]>;
}

/** A status answer older than this is asked again (pages open often; a dead engine is slow to answer). */
const STATUS_TTL_MS = 5000;

/**
 * The providers this server can use, the default one, and whether each answers now —
 * so the VMs page and the create dialog say "Docker is not running" before the click
 * instead of a failed provision after it.
 */
export class ProviderRegistry {
  private readonly cache = new Map<string, { at: number; info: Promise<VmProviderInfo> }>();

  constructor(
    private readonly providers: ReadonlyMap<string, RegisteredProvider>,
    readonly defaultName: string,
  ) {}

  names(): string[] {
    return [...this.providers.keys()];
  }

  has(name: string): boolean {
    return this.providers.has(name);
  }

  /** The provider called `name`; 400 when this server has none by that name. */
  get(name: string): VmProvider {
    const p = this.providers.get(name);
    if (!p) throw new AppError(400, 'validation_failed', `Unknown VM provider "${name}" (this server has ${this.names().join(', ')})`);
    return p.provider;
  }

  billedWhenStopped(name: string): boolean {
    return this.providers.get(name)?.billedWhenStopped ?? false;
  }

  async info(name: string): Promise<VmProviderInfo> {
    const hit = this.cache.get(name);
    if (hit && Date.now() - hit.at < STATUS_TTL_MS) return hit.info;
    const info = this.ask(name);
    this.cache.set(name, { at: Date.now(), info });
    return info;
  }

  async all(): Promise<VmProviderInfo[]> {
    return Promise.all(this.names().map((n) => this.info(n)));
  }

  /** Refuses a create on a provider that is not usable now, with its reason (503 `provider_unavailable`). */
  async assertUsable(name: string): Promise<VmProvider> {
    const provider = this.get(name);
    const info = await this.info(name);
    if (!info.ok) throw new AppError(503, 'provider_unavailable', `VM provider ${name} cannot be used now: ${info.reason}`, { provider: name, reason: info.reason });
    return provider;
  }

  private async ask(name: string): Promise<VmProviderInfo> {
    const entry = this.providers.get(name)!;
    const status = await entry.provider.status().catch((err: Error) => ({ ok: false, reason: err.message }));
    const notEnforced = status.ok && entry.notEnforced ? await entry.notEnforced().catch(() => []) : [];
    return {
      name,
      ok: status.ok,
      reason: status.ok ? null : (status.reason ?? 'not reachable'),
      default: name === this.defaultName,
      billedWhenStopped: entry.billedWhenStopped,
      notEnforced,
    };
  }
}
