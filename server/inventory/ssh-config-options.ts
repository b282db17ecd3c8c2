/**
 * The option values collected while reading, before defaults and expansion. Mirrors
 * OpenSSH's Options: null means "not set yet", and a directive only fills a value that is
 * still null, which is how "first value wins" falls out. The same object carries over
 * from the first pass into the final pass.
 */

export interface IdentityFileEntry {
  path: string;
  /** From a user config (or a file it includes): OpenSSH only merges duplicates with the same origin. */
  userProvided: boolean;
}

export interface JumpSetting {
  /** The hop specs as written; ['none'] for `ProxyJump none`. */
  specs: string[];
  /** The hop ssh connects through directly (the last one), for the loop check. */
  host: string;
  user: string | null;
  /** 0 for `ProxyJump none`, -1 when the last hop names no port. */
  port: number;
}

export interface ConfigOptions {
  user: string | null;
  hostname: string | null;
  port: number | null;
  identityFiles: IdentityFileEntry[];
  identitiesOnly: boolean | null;
  identityAgent: string | null;
  /** Set to 'none' behind the scenes by an active ProxyJump, which is what keeps later ProxyCommands out. */
  proxyCommand: string | null;
  jump: JumpSetting | null;
  hostKeyAlias: string | null;
  userKnownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  hostKeyAlgorithms: string | null;
  serverAliveInterval: number | null;
  serverAliveCountMax: number | null;
  connectTimeout: number | null;
  strictHostKeyChecking: number | null;
  addressFamily: number | null;
  canonicalizeHostname: number | null;
  canonicalizeMaxDots: number | null;
  canonicalizeFallbackLocal: boolean | null;
  canonicalDomains: string[];
  permittedCnames: string[];
  ignoredUnknown: string | null;
  /** Result field name → "file:line" of the directive that set it. */
  sources: Record<string, string>;
}

export function emptyOptions(): ConfigOptions {
  return {
    user: null,
    hostname: null,
    port: null,
    identityFiles: [],
    identitiesOnly: null,
    identityAgent: null,
    proxyCommand: null,
    jump: null,
    hostKeyAlias: null,
    userKnownHostsFiles: [],
    globalKnownHostsFiles: [],
    hostKeyAlgorithms: null,
    serverAliveInterval: null,
    serverAliveCountMax: null,
    connectTimeout: null,
    strictHostKeyChecking: null,
    addressFamily: null,
    canonicalizeHostname: null,
    canonicalizeMaxDots: null,
    canonicalizeFallbackLocal: null,
    canonicalDomains: [],
    permittedCnames: [],
    ignoredUnknown: null,
    sources: {},
  };
}
