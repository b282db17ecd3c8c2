/**
 * From collected options to the values ssh actually uses (readconf.c
 * fill_default_options and the expansion block in ssh.c main): defaults for what no
 * line set, `none` meaning "nothing", and ~/%/${} expansion of the path options with the
 * final host, port and user.
 */
import { SshConfigError } from './ssh-config-error.ts';
import { ExpansionError, connectionHash, connectionTokens, expand, expandTilde, type Environment } from './ssh-config-expand.ts';
import { asciiLower } from './ssh-config-lexer.ts';
import type { ConfigOptions } from './ssh-config-options.ts';
import type { ResolvedSshConfig } from './ssh-config.ts';

/** fill_default_options: the keys ssh tries when no IdentityFile applies, in this order. */
const DEFAULT_IDENTITY_FILES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((f) => `~/.ssh/${f}`);
const DEFAULT_USER_KNOWN_HOSTS = ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'];
const DEFAULT_GLOBAL_KNOWN_HOSTS = ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'];

const STRICT_HOST_KEY_WORDS: Record<number, ResolvedSshConfig['strictHostKeyChecking']> = { 0: 'no', 1: 'accept-new', 2: 'yes', 3: 'ask' };

/** Result fields `sources` may name. */
const SOURCE_FIELDS = new Set([
  'hostname', 'user', 'port', 'identityFiles', 'identitiesOnly', 'identityAgent', 'proxyJump', 'proxyCommand', 'hostKeyAlias',
  'userKnownHostsFiles', 'globalKnownHostsFiles', 'hostKeyAlgorithms', 'serverAliveInterval', 'serverAliveCountMax', 'connectTimeout',
  'strictHostKeyChecking',
]);

export interface FinalizeInputs {
  /** The destination host as typed (ssh's host_arg). */
  alias: string;
  /** The host name after HostName, lowercasing and canonicalisation. */
  host: string;
  localUser: string;
  uid: number;
  passwdHome: string;
  localHostname: string;
  env: Environment;
  warnings: string[];
}

const isNone = (v: string) => asciiLower(v) === 'none';

function tildeOnly(path: string, passwdHome: string): string {
  try {
    return expandTilde(path, passwdHome);
  } catch (err) {
    if (err instanceof ExpansionError) throw new SshConfigError(`GlobalKnownHostsFile "${path}": ${err.message}`);
    throw err;
  }
}

export function finalizeOptions(o: ConfigOptions, x: FinalizeInputs): ResolvedSshConfig {
  const user = o.user ?? x.localUser;
  const port = o.port ?? 22;
  let jump = o.jump;
  // `ProxyJump none` is dropped here; a jump host literally named "none" (e.g. `none # comment`) is not.
  if (jump && jump.host === 'none' && jump.port === 0 && jump.user === null) jump = null;
  const proxyCommand = o.proxyCommand !== null && !isNone(o.proxyCommand) ? o.proxyCommand : null;
  if (jump) {
    const jumpPort = jump.port > 0 ? jump.port : 22;
    if (jump.host === x.host && jumpPort === port && (jump.user ?? user) === user) throw new SshConfigError(`jumphost loop via ${jump.host}`);
  }
  // ssh lowercases HostKeyAlias before using it (and before %k sees it).
  const hostKeyAlias = o.hostKeyAlias === null ? null : asciiLower(o.hostKeyAlias);

  const tokens = connectionTokens({
    connectionHash: connectionHash(x.localHostname, x.host, String(port), user),
    localHostname: x.localHostname,
    uid: String(x.uid),
    keyAlias: hostKeyAlias ?? x.alias,
    alias: x.alias,
    port: String(port),
    passwdHome: x.passwdHome,
    host: x.host,
    remoteUser: user,
    localUser: x.localUser,
  });
  const expandPath = (value: string, what: string): string => {
    try {
      return expand(expandTilde(value, x.passwdHome), tokens, x.env);
    } catch (err) {
      if (err instanceof ExpansionError) throw new SshConfigError(`${what} "${value}": ${err.message}`);
      throw err;
    }
  };

  const identityAgent = o.identityAgent === null ? null : expandPath(o.identityAgent, 'IdentityAgent');
  const globalKnown = o.globalKnownHostsFiles.length > 0 ? o.globalKnownHostsFiles : DEFAULT_GLOBAL_KNOWN_HOSTS;
  const userKnown = o.userKnownHostsFiles.length > 0 ? o.userKnownHostsFiles : DEFAULT_USER_KNOWN_HOSTS;
  const identities = o.identityFiles.length > 0 ? o.identityFiles.map((f) => f.path) : DEFAULT_IDENTITY_FILES;

  const sources: Record<string, string> = {};
  for (const [field, where] of Object.entries(o.sources)) if (SOURCE_FIELDS.has(field)) sources[field] = where;

  return {
    host: x.alias,
    hostname: x.host,
    user,
    port,
    // IdentityFile none is a placeholder ssh skips when loading keys.
    identityFiles: identities.filter((f) => !isNone(f)).map((f) => expandPath(f, 'IdentityFile')),
    identitiesOnly: o.identitiesOnly ?? false,
    identityAgent,
    proxyJump: jump ? jump.specs : null,
    proxyCommand,
    hostKeyAlias,
    userKnownHostsFiles: isNone(userKnown[0]) ? [] : userKnown.map((f) => expandPath(f, 'UserKnownHostsFile')),
    // Global files get only ~ expansion, at the point ssh reads them.
    globalKnownHostsFiles: isNone(globalKnown[0]) ? [] : globalKnown.map((f) => tildeOnly(f, x.passwdHome)),
    hostKeyAlgorithms: o.hostKeyAlgorithms,
    serverAliveInterval: o.serverAliveInterval ?? 0,
    serverAliveCountMax: o.serverAliveCountMax ?? 3,
    connectTimeout: o.connectTimeout,
    strictHostKeyChecking: STRICT_HOST_KEY_WORDS[o.strictHostKeyChecking ?? 3],
    sources,
    // The final pass re-reads the same lines; report each problem once.
    warnings: [...new Set(x.warnings)],
  };
}
