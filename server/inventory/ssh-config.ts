/**
 * Resolves an ssh destination through ssh_config exactly as OpenSSH's client does
 * (reference: Debian's OpenSSH 9.2, checked against `ssh -G`): same files in the same
 * order, first value wins, Host/Match/Include semantics, the second "final" pass, the
 * host name rewriting between passes, defaults and %/~/${} expansion.
 *
 * Reads files and may run `Match exec` commands and DNS lookups (CanonicalizeHostname);
 * otherwise it has no effects.
 */
import os from 'node:os';
import path from 'node:path';
import { CANONICALISE_ALWAYS, canonicalHostName, hostResolves } from './ssh-config-canonical.ts';
import { isValidCommandLineHost, isValidCommandLineUser, parseDestination } from './ssh-config-destination.ts';
import { SshConfigError } from './ssh-config-error.ts';
import { ExpansionError, expand, expandTilde } from './ssh-config-expand.ts';
import { shellExec } from './ssh-config-exec.ts';
import { finalizeOptions } from './ssh-config-finalize.ts';
import { asciiLower } from './ssh-config-lexer.ts';
import { emptyOptions, type ConfigOptions } from './ssh-config-options.ts';
import { ConfigReader, type Pass, type ReaderEnvironment } from './ssh-config-reader.ts';
import type { Family } from './ssh-config-address.ts';

import type { ResolvedSsh } from '../../src/lib/shared/inventory.ts';
export { SshConfigError } from './ssh-config-error.ts';
export { parseJumpHop } from './ssh-config-jump.ts';

export interface SshConfigContext {
  /**
   * Config files in the order OpenSSH reads them: the user's file (SSH_CONFIG or
   * ~/.ssh/config), then the system file (/etc/ssh/ssh_config) unless a file was given
   * explicitly like `ssh -F`. `files[0]` is a user config (relative Include resolves under
   * ~/.ssh); later files are system configs (relative Include resolves under /etc/ssh). A
   * single file is treated like `ssh -F`: it must exist, its permissions are not checked,
   * and the word `none` means no config at all.
   */
  files: string[];
  /** os.userInfo().username */
  localUser: string;
  /** Home from the password database: `~` in IdentityFile and friends, %d, ~/.ssh/config. */
  passwdHome: string;
  /** $HOME: used only for `~` in Include (glob(3) GLOB_TILDE reads $HOME). */
  envHome: string;
  /** Command-line overrides, like `ssh -l user -p port`; these win over the config. */
  user?: string;
  port?: number;
  /**
   * Runs a `Match exec` command the way OpenSSH does ($SHELL -c, /bin/sh without SHELL;
   * tokens already expanded); resolves true when it exits 0 and rejects when it cannot be
   * run or dies by a signal. Default: spawn with a 10 s limit.
   */
  exec?: (command: string) => Promise<boolean>;
  /** Environment for ${VAR} expansion (IdentityAgent, IdentityFile, UserKnownHostsFile) and `Match exec`. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Local host name for %L/%l and %C. Default os.hostname(). */
  localHostname?: string;
}

/** What `ssh -G` computes for an alias (the fields and their rules are documented on the shared type). */
export type ResolvedSshConfig = Omit<ResolvedSsh, 'knownHostsName'>;

/** One pass over the config files (ssh.c process_config_files): only an explicit file must exist. */
async function readAll(files: string[], reader: ConfigReader, passwdHome: string): Promise<void> {
  const explicit = files.length === 1;
  if (explicit && asciiLower(files[0]) === 'none') return;
  for (let i = 0; i < files.length; i++) {
    const file = files[i].startsWith('~') ? expandTilde(files[i], passwdHome) : files[i];
    const flags = { userConfig: i === 0, checkPermissions: i === 0 && !explicit, neverMatch: false };
    const result = await reader.readFile(file, flags);
    if (!result.opened && explicit) throw new SshConfigError(`Can't open user config file ${file}: ${result.code}`);
  }
}

function expandHostName(hostname: string, host: string): string {
  try {
    return expand(hostname, { h: host }, null);
  } catch (err) {
    if (err instanceof ExpansionError) throw new SshConfigError(`HostName "${hostname}": ${err.message}`);
    throw err;
  }
}

/** config_has_permitted_cnames(): a `CanonicalizePermittedCNAMEs none` does not count. */
function hasPermittedCnames(o: ConfigOptions): boolean {
  return o.permittedCnames.length > 0 && !(o.permittedCnames.length === 1 && o.permittedCnames[0] === 'none');
}

export async function resolveSshConfig(alias: string, ctx: SshConfigContext): Promise<ResolvedSshConfig> {
  const env = ctx.env ?? process.env;
  const environment: ReaderEnvironment = {
    localUser: ctx.localUser,
    uid: os.userInfo().uid,
    passwdHome: ctx.passwdHome,
    envHome: ctx.envHome,
    localHostname: ctx.localHostname ?? os.hostname(),
    env,
    exec: ctx.exec ?? shellExec(env),
    warnings: [],
  };

  const destination = parseDestination(alias);
  const options = emptyOptions();
  // Command-line values are in place before any file is read, so the files cannot override them.
  const commandLineUser = ctx.user ?? destination.user;
  if (commandLineUser !== undefined) {
    if (!isValidCommandLineUser(commandLineUser)) throw new SshConfigError('remote username contains invalid characters');
    options.user = commandLineUser;
    options.sources.user = 'command line';
  }
  const commandLinePort = ctx.port ?? destination.port;
  if (commandLinePort !== undefined) {
    if (!Number.isInteger(commandLinePort) || commandLinePort <= 0 || commandLinePort > 65535) throw new SshConfigError(`Bad port '${commandLinePort}'`);
    options.port = commandLinePort;
    options.sources.port = 'command line';
  }
  if (destination.host === '' || !isValidCommandLineHost(destination.host)) throw new SshConfigError('hostname contains invalid characters');

  const first: Pass = { host: destination.host, originalHost: destination.host, final: false, wantsFinalPass: false };
  await readAll(ctx.files, new ConfigReader(options, first, environment), ctx.passwdHome);

  // Between the passes: the name ssh will connect to.
  const expanded = options.hostname === null ? destination.host : expandHostName(options.hostname, destination.host);
  if (options.hostname !== null) options.hostname = expanded;
  const family = (options.addressFamily ?? 0) as Family;
  const mode = options.canonicalizeHostname ?? 0;
  const direct = (options.proxyCommand === null || asciiLower(options.proxyCommand) === 'none') && options.jump === null;
  const canonical = await canonicalHostName(expanded, {
    mode,
    maxDots: options.canonicalizeMaxDots ?? 1,
    fallbackLocal: options.canonicalizeFallbackLocal ?? true,
    domains: options.canonicalDomains,
    family,
    direct,
  });
  const host = canonical.host;
  if (!canonical.found && hasPermittedCnames(options) && (direct || mode === CANONICALISE_ALWAYS)) {
    environment.warnings.push('CanonicalizePermittedCNAMEs: CNAME targets are not followed; the host name is kept as resolved');
    if (direct && !(await hostResolves(host, family))) throw new SshConfigError(`Could not resolve hostname ${host}`);
  }

  // A Match final anywhere, or canonicalisation being on, makes ssh read everything again
  // against the new name; values from the first pass stay (first one wins).
  if (first.wantsFinalPass || mode !== 0) {
    options.hostname = host;
    const final: Pass = { host, originalHost: destination.host, final: true, wantsFinalPass: false };
    await readAll(ctx.files, new ConfigReader(options, final, environment), ctx.passwdHome);
  }

  return finalizeOptions(options, {
    alias: destination.host,
    host,
    localUser: ctx.localUser,
    uid: environment.uid,
    passwdHome: ctx.passwdHome,
    localHostname: environment.localHostname,
    env,
    warnings: environment.warnings,
  });
}

/**
 * Default SshConfigContext for this process: files = [SSH_CONFIG env or ~/.ssh/config,
 * '/etc/ssh/ssh_config' unless SSH_CONFIG was set], users/homes from os.userInfo() and
 * process.env. An explicit `configPath` acts like SSH_CONFIG (like `ssh -F`).
 */
export function defaultSshConfigContext(configPath?: string): SshConfigContext {
  const me = os.userInfo();
  const explicit = configPath || process.env.SSH_CONFIG || undefined;
  return {
    files: explicit ? [explicit] : [path.join(me.homedir, '.ssh', 'config'), '/etc/ssh/ssh_config'],
    localUser: me.username,
    passwdHome: me.homedir,
    envHome: process.env.HOME ?? '',
    env: process.env,
    localHostname: os.hostname(),
  };
}
