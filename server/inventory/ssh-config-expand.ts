/**
 * The three expansions OpenSSH applies to config values (misc.c): `%x` tokens,
 * `${VAR}` environment references and a leading `~`. Which ones apply, and with which
 * tokens, depends on the keyword; callers pass exactly the set OpenSSH 9.2 passes.
 */
import { createHash } from 'node:crypto';
import { lookupAccount } from './ssh-config-accounts.ts';
import { SshConfigError } from './ssh-config-error.ts';

export type Environment = Record<string, string | undefined>;

/** Why an expansion failed, in OpenSSH's words; callers rethrow it with the option or file:line it concerns. */
export class ExpansionError extends SshConfigError {}

/**
 * Expands `%x` tokens (when `tokens` is given) and `${VAR}` references (when `env` is
 * given). `%%` is a literal percent; an unknown token, a trailing `%`, an unclosed or
 * empty `${}` and an unset variable are errors, as they are fatal in OpenSSH.
 */
export function expand(s: string, tokens: Record<string, string> | null, env: Environment | null): string {
  let out = '';
  const missing: string[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (env !== null && c === '$' && s[i + 1] === '{') {
      const close = s.indexOf('}', i + 2);
      if (close < 0) throw new ExpansionError(`environment variable '${s.slice(i + 2)}' missing closing '}'`);
      const name = s.slice(i + 2, close);
      if (name === '') throw new ExpansionError('zero-length environment variable');
      const value = env[name];
      if (value === undefined) missing.push(name);
      else out += value;
      i = close;
      continue;
    }
    if (c !== '%' || tokens === null) {
      out += c;
      continue;
    }
    const key = s[++i];
    if (key === '%') out += '%';
    else if (key === undefined) throw new ExpansionError('invalid format');
    else if (Object.hasOwn(tokens, key)) out += tokens[key];
    else throw new ExpansionError(`unknown key %${key}`);
  }
  if (missing.length > 0) throw new ExpansionError(`env var \${${missing[0]}} has no value`);
  return out;
}

/**
 * `~`, `~/path` and `~user/path` (misc.c tilde_expand): the home directory comes from the
 * password database — never $HOME — and always ends in exactly one '/'.
 */
export function expandTilde(path: string, passwdHome: string): string {
  if (!path.startsWith('~')) return path;
  const body = path.slice(1);
  let user: string | null = null;
  let rest: string;
  if (body === '' || body.startsWith('/')) {
    rest = body.replace(/^\/+/, '');
  } else {
    const slash = body.indexOf('/');
    user = slash < 0 ? body : body.slice(0, slash);
    rest = slash < 0 ? '' : body.slice(slash + 1).replace(/^\/+/, '');
  }
  let home = passwdHome;
  if (user !== null) {
    const account = lookupAccount(user);
    if (!account) throw new ExpansionError(`No such user ${user}`);
    home = account.home;
  }
  return `${home}${home.endsWith('/') && home !== '' ? '' : '/'}${rest}`;
}

/** `%C`: SHA-1 over local host name, remote host, port and remote user (readconf.c ssh_connection_hash). */
export function connectionHash(localHost: string, host: string, port: string, user: string): string {
  return createHash('sha1').update(localHost + host + port + user).digest('hex');
}

/** What the %-tokens stand for in one connection. */
export interface TokenValues {
  connectionHash: string;
  localHostname: string;
  uid: string;
  keyAlias: string;
  alias: string;
  port: string;
  passwdHome: string;
  host: string;
  remoteUser: string;
  localUser: string;
}

/** The token set OpenSSH 9.2 uses for IdentityFile, IdentityAgent, UserKnownHostsFile and Match exec. */
export function connectionTokens(v: TokenValues): Record<string, string> {
  return {
    C: v.connectionHash,
    L: v.localHostname.split('.')[0],
    i: v.uid,
    k: v.keyAlias,
    l: v.localHostname,
    n: v.alias,
    p: v.port,
    d: v.passwdHome,
    h: v.host,
    r: v.remoteUser,
    u: v.localUser,
  };
}
