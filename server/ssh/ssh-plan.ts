import { parseJumpHop, resolveSshConfig, type ResolvedSshConfig, type SshConfigContext } from '../inventory/ssh-config.ts';
import { knownHostsLookupName } from '../inventory/known-hosts.ts';
import { sshUnsupported } from './ssh-errors.ts';

/** One server on the way: a jump host or the target, each with its own resolved config. */
export interface SshHop {
  /** How messages name it: the alias, and the address when that differs. */
  label: string;
  config: ResolvedSshConfig;
  /** The name its host key is looked up under. */
  lookupName: string;
  /**
   * Set for machines the console made itself (provisioned VMs): their host keys were read
   * out of band and are the only ones trusted, and their own key is the only login tried —
   * neither the user's known_hosts files nor their agent have a say.
   */
  pinned?: PinnedIdentity;
}

export interface PinnedIdentity {
  /** Host keys as OpenSSH public key lines (`ssh-ed25519 AAAA…`). */
  hostKeys: string[];
  /** OpenSSH private key the console logs in with. */
  privateKey: string;
  /** What to call the key in messages (never the key itself). */
  keyLabel: string;
}

/** How to reach a host: jump hosts in order, then the target. */
export interface SshPlan {
  hops: SshHop[];
  target: SshHop;
  /** Same key = same route, user and keys: connections with it are interchangeable (pooling). */
  key: string;
}

/** OpenSSH nests ProxyJump through each first hop's own config; a cycle must end somewhere. */
const MAX_HOPS = 8;

/** The known_hosts name OpenSSH uses: the lowercased HostKeyAlias (no port), else the lowercased HostName, as [name]:port off port 22. */
export function lookupNameOf(c: ResolvedSshConfig): string {
  return knownHostsLookupName(c.hostname, c.port, c.hostKeyAlias ?? undefined);
}

/** Where a hop's host key is checked: what HostKeyTrust.prepare takes. */
export function keyTarget(c: ResolvedSshConfig): { host: string; port: number; hostKeyAlias?: string } {
  return { host: c.hostname, port: c.port, ...(c.hostKeyAlias ? { hostKeyAlias: c.hostKeyAlias } : {}) };
}

function hopOf(alias: string, config: ResolvedSshConfig): SshHop {
  const addr = `${config.hostname}:${config.port}`;
  return { label: alias === config.hostname ? addr : `${alias} (${addr})`, config, lookupName: lookupNameOf(config) };
}

/**
 * Resolves a host the way `ssh` would and works out its route. `ssh -J a,b target` reaches
 * b through a and target through b; a's own ProxyJump still applies (it is a plain
 * `ssh a`), while b's is replaced by the explicit chain — as OpenSSH does when it turns
 * -J into nested `ssh -W` commands. ProxyCommand is refused: running it would mean passing
 * a string built from host names to a shell (OpenSSH CVE-2023-51385).
 */
export async function planRoute(
  alias: string,
  ctx: SshConfigContext,
  overrides: { user?: string; port?: number } = {},
  depth = 0,
): Promise<SshPlan> {
  const config = await resolveSshConfig(alias, { ...ctx, ...overrides });
  const target = hopOf(alias, config);
  if (config.proxyCommand) {
    throw sshUnsupported(target.label, `its ssh config sets ProxyCommand (${config.sources.proxyCommand ?? 'config'}), which the console does not run; use ProxyJump instead`);
  }
  const hops: SshHop[] = [];
  const jumps = config.proxyJump ?? [];
  for (let i = 0; i < jumps.length; i++) {
    if (depth + hops.length >= MAX_HOPS) throw sshUnsupported(target.label, `more than ${MAX_HOPS} ProxyJump hops (a loop in the ssh config?)`);
    const spec = parseJumpHop(jumps[i]);
    const hopOverrides = { user: spec.user, port: spec.port };
    if (i === 0) {
      const first = await planRoute(spec.host, ctx, hopOverrides, depth + 1);
      hops.push(...first.hops, first.target);
    } else {
      const c = await resolveSshConfig(spec.host, { ...ctx, ...hopOverrides });
      if (c.proxyCommand) throw sshUnsupported(spec.host, 'ProxyCommand is not supported; use ProxyJump');
      hops.push(hopOf(spec.host, c));
    }
  }
  // Everything that decides whom we trust and how we log in: a connection verified under one
  // set of known_hosts files must not serve a config that names others.
  const key = JSON.stringify([...hops, target].map((h) => [
    h.config.hostname, h.config.port, h.config.user, h.lookupName, h.config.identityFiles, h.config.identityAgent, h.config.identitiesOnly,
    h.config.userKnownHostsFiles, h.config.globalKnownHostsFiles,
  ]));
  return { hops, target, key };
}
