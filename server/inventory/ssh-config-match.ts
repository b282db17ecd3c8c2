/**
 * Evaluating one `Match` line (readconf.c match_cfg_line). Criteria are read with
 * strdelim (double quotes only), all of them must hold, `!` negates one, and every
 * criterion is still parsed after one fails — so `final` is noticed and syntax is checked
 * — but an `exec` after a failed criterion is not run.
 */
import { SshConfigError } from './ssh-config-error.ts';
import { ExpansionError, connectionHash, connectionTokens, expand } from './ssh-config-expand.ts';
import { asciiLower, strdelim } from './ssh-config-lexer.ts';
import { matchHostname, matchPatternList } from './ssh-config-patterns.ts';

export interface MatchInputs {
  /** The name Host lines match in this pass: the alias, or the canonical name in the final pass. */
  host: string;
  originalHost: string;
  finalPass: boolean;
  /** Option values as far as they are known when the line is reached. */
  hostname: string | null;
  user: string | null;
  port: number | null;
  hostKeyAlias: string | null;
  localUser: string;
  uid: number;
  passwdHome: string;
  localHostname: string;
  exec: (command: string) => Promise<boolean>;
  /** Called when the line asks for the final pass. */
  requestFinalPass: () => void;
}

/**
 * `rest` is what the criteria parser left unread — normally nothing, but a stray '='
 * can stop it early, and ssh then rejects the leftovers as extra arguments.
 */
export type MatchOutcome = { ok: true; matched: boolean; rest: string | null } | { ok: false; message: string };

/** The host Match criteria test: HostName with %h expanded in the first pass, as set in the final one. */
function matchHost(m: MatchInputs, where: string): string {
  if (m.finalPass) return m.hostname ?? m.host;
  if (m.hostname === null) return m.host;
  try {
    return expand(m.hostname, { h: m.host }, null);
  } catch (err) {
    throw new SshConfigError(`${where}: HostName ${m.hostname}: ${(err as Error).message}`);
  }
}

export async function evaluateMatch(condition: string, m: MatchInputs, where: string): Promise<MatchOutcome> {
  const port = m.port ?? 22;
  const remoteUser = m.user ?? m.localUser;
  const host = matchHost(m, where);
  let cursor: string | null = condition;
  let result = true;
  let attributes = 0;

  for (;;) {
    const next = strdelim(cursor);
    cursor = next.rest;
    let attribute = next.token;
    if (attribute === null || attribute === '') break;
    if (attribute.startsWith('#')) {
      cursor = null;
      break;
    }
    const original = attribute;
    const negate = attribute.startsWith('!');
    if (negate) attribute = attribute.slice(1);
    const name = asciiLower(attribute);

    if (name === 'all') {
      const extra = strdelim(cursor);
      if (attributes > 1 || (extra.token !== null && extra.token !== '' && !extra.token.startsWith('#'))) {
        return { ok: false, message: `'${original}' cannot be combined with other Match attributes` };
      }
      if (result) result = !negate;
      const rest = extra.token !== null && extra.token.startsWith('#') ? null : extra.rest;
      return { ok: true, matched: result, rest };
    }
    attributes++;
    if (name === 'canonical' || name === 'final') {
      if (name === 'final') m.requestFinalPass();
      if (m.finalPass === negate) result = false;
      continue;
    }
    const argument = strdelim(cursor);
    cursor = argument.rest;
    const arg = argument.token;
    if (arg === null || arg === '' || arg.startsWith('#')) return { ok: false, message: `Missing Match criteria for ${attribute}` };

    let matched: boolean;
    if (name === 'host') matched = matchHostname(host, arg) === 1;
    else if (name === 'originalhost') matched = matchHostname(m.originalHost, arg) === 1;
    else if (name === 'user') matched = matchPatternList(remoteUser, arg, false) === 1;
    else if (name === 'localuser') matched = matchPatternList(m.localUser, arg, false) === 1;
    else if (name === 'exec') {
      const tokens = connectionTokens({
        connectionHash: connectionHash(m.localHostname, host, String(port), remoteUser),
        localHostname: m.localHostname,
        uid: String(m.uid),
        keyAlias: m.hostKeyAlias ?? host,
        alias: m.originalHost,
        port: String(port),
        passwdHome: m.passwdHome,
        host,
        remoteUser,
        localUser: m.localUser,
      });
      let command: string;
      try {
        command = expand(arg, tokens, null);
      } catch (err) {
        if (err instanceof ExpansionError) throw new SshConfigError(`${where}: Match exec "${arg}": ${err.message}`);
        throw err;
      }
      if (!result) continue; // an earlier criterion failed: the command is not run
      try {
        matched = await m.exec(command);
      } catch (err) {
        throw new SshConfigError(`${where}: match exec '${command}' error: ${(err as Error).message}`);
      }
    } else {
      return { ok: false, message: `Unsupported Match attribute ${attribute}` };
    }
    if (matched === negate) result = false;
  }
  if (attributes === 0) return { ok: false, message: 'One or more attributes required for Match' };
  return { ok: true, matched: result, rest: cursor };
}
