/** Environments, hosts, effective SSH settings and host keys: shapes shared by server and UI. */

/** Environment and host names: what a folder name and a YAML key may safely be. */
export const INVENTORY_NAME = /^[a-zA-Z0-9_.-]{1,64}$/;

/** A problem in one environment's config.yml; the rest of the inventory still lists. */
export interface EnvironmentError {
  /** Path of the file, relative to the environments folder (e.g. `staging/config.yml`). */
  file: string;
  /** 1-based line, when the problem has one. */
  line?: number;
  message: string;
}

export interface InventoryHost {
  /** Stable id (uuid) of the host's row; jobs refer to it. */
  id: string;
  environment: string;
  name: string;
  /** As written in config.yml: an address, a DNS name or an alias of the ssh config. */
  host: string;
  /** `ansible_user` from config.yml, else the ssh config's User, else `ubuntu`. */
  user: string;
  /** `port` from config.yml, else the ssh config's Port, else 22. */
  port: number;
  /** Every other key of the host's entry, for display. */
  vars: Record<string, unknown>;
}

export interface Environment {
  name: string;
  template: string | null;
  vms: InventoryHost[];
  /** Set when config.yml could not be used; its hosts from the last good read stay listed. */
  error?: EnvironmentError;
}

/** `GET /api/ssh/resolve`: the client settings OpenSSH would use for one alias (what `ssh -G` prints). */
export interface ResolvedSsh {
  /** The name resolved (what was typed after `ssh`, without any user@ part). */
  host: string;
  hostname: string;
  user: string;
  port: number;
  /** Key files in order, `~`, %-tokens and ${VAR} expanded, defaults when none set; `IdentityFile none` entries are left out (ssh skips them). */
  identityFiles: string[];
  identitiesOnly: boolean;
  /** Null when unset; the expanded value otherwise ("none", "SSH_AUTH_SOCK" and a legacy "$VAR" kept as written). */
  identityAgent: string | null;
  /** Hop specs as written ("user@host:port" or ssh:// URIs), split on commas; null when unset or "none". */
  proxyJump: string[] | null;
  /** Unexpanded command, null when unset, "none", or overridden by an earlier ProxyJump. */
  proxyCommand: string | null;
  /** Lowercased, as ssh uses it. */
  hostKeyAlias: string | null;
  /** Expanded; defaults when unset; empty for `none`. */
  userKnownHostsFiles: string[];
  /** `~` expanded (the only expansion ssh applies); defaults when unset; empty for `none`. */
  globalKnownHostsFiles: string[];
  /** Raw value when set, null otherwise. */
  hostKeyAlgorithms: string | null;
  serverAliveInterval: number;
  serverAliveCountMax: number;
  /** Seconds; null = none. */
  connectTimeout: number | null;
  strictHostKeyChecking: 'yes' | 'no' | 'ask' | 'accept-new';
  /** Field name → "file:line" of the directive that set it; "command line" (or "<env>/config.yml …") for overrides; absent for defaults. */
  sources: Record<string, string>;
  /** Things ssh reports but accepts (unsupported or deprecated keywords, IgnoreUnknown hits), each naming file:line. */
  warnings: string[];
  /** The name host keys are looked up under: the lowercased HostKeyAlias, else the lowercased HostName, as [name]:port off port 22. */
  knownHostsName: string;
}

export type HostKeyStatus = 'trusted' | 'pending';

/** A host key the console knows: from its own table (trusted or pending) or the user's known_hosts files. */
export interface KnownHostKey {
  id: string | null;
  /** The name the key is looked up under (see ResolvedSsh.knownHostsName). */
  host: string;
  type: string;
  sha256: string;
  status: HostKeyStatus;
  /** `console` for keys accepted in the UI; a file path for keys read from known_hosts files. */
  source: string;
  acceptedBy?: string | null;
  acceptedAt?: string | null;
  firstSeenAt?: string | null;
  lastSeenAt?: string | null;
}

/** What a server presented when asked (`POST /api/known-hosts`). */
export interface PresentedHostKeys {
  host: string;
  fingerprints: Array<{ type: string; sha256: string; status: 'trusted' | 'pending' | 'changed' | 'revoked' }>;
}

/** Presets for remote log streams: the only SSH commands a user without terminal access may run. */
export type SshPreset =
  | { kind: 'journalctl'; unit?: string }
  | { kind: 'docker-logs'; container: string }
  | { kind: 'tail'; path: string };

/** A host's page: the host, its effective SSH settings (or why they could not be computed), and the state of its key. */
export interface HostDetails extends InventoryHost {
  /** Effective settings (administrators only: they name key files). */
  ssh: ResolvedSsh | null;
  /** Why the route could not be worked out (unreadable ssh config, ProxyCommand …). */
  sshError?: string;
  /** The name the host key is looked up under. */
  knownHostsName?: string;
  /** Jump hosts on the way, in order. */
  via?: string[];
  keys: KnownHostKey[];
  /** Set when the host was removed from its config.yml (its jobs stay). */
  removedAt?: string;
}
