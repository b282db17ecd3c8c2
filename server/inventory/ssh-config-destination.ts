/**
 * The destination as typed after `ssh` (`host`, `user@host` or `ssh://user@host:port`)
 * and the checks ssh makes on command-line names before any config is read: since the
 * fix for CVE-2023-51385 (backported to Debian's 9.2) a host or user that could inject
 * shell syntax through %-tokens is refused outright.
 */
import { SshConfigError } from './ssh-config-error.ts';
import { parseSshUri } from './ssh-config-jump.ts';

export interface Destination {
  host: string;
  user?: string;
  port?: number;
}

/** Splits `[user@]host` at the last '@', or reads an ssh:// URI. */
export function parseDestination(arg: string): Destination {
  const uri = parseSshUri(arg);
  if (uri === null) throw new SshConfigError(`invalid destination "${arg}"`);
  if (uri !== 'not-uri') return uri;
  const at = arg.lastIndexOf('@');
  if (at === 0) throw new SshConfigError(`invalid destination "${arg}"`);
  if (at < 0) return { host: arg };
  return { user: arg.slice(0, at), host: arg.slice(at + 1) };
}

const isControl = (c: string) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f;
const isSpace = (c: string) => ' \t\n\v\f\r'.includes(c);

/** ssh_valid_hostname(): no leading '-', no shell metacharacters, commas, whitespace or control characters. */
export function isValidCommandLineHost(host: string): boolean {
  if (host.startsWith('-')) return false;
  return ![...host].some((c) => "'`\"$\\;&<>|(){},".includes(c) || isSpace(c) || isControl(c));
}

/** ssh_valid_ruser(): no leading '-', no shell metacharacters, no ' -' option smuggling, no trailing backslash. */
export function isValidCommandLineUser(user: string): boolean {
  if (user.startsWith('-') || user.endsWith('\\')) return false;
  for (let i = 0; i < user.length; i++) {
    const c = user[i];
    if (isControl(c) || "'`\";&<>|(){}".includes(c)) return false;
    if (isSpace(c) && user[i + 1] === '-') return false;
  }
  return true;
}
