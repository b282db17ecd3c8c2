/**
 * ProxyJump hop syntax (misc.c parse_user_host_port and parse_uri, readconf.c
 * parse_jump): `[user@]host[:port]` with `[ipv6]` brackets, or
 * `ssh://[user[;params]@]host[:port][/]` with a URL-encoded user.
 */
import { SshConfigError } from './ssh-config-error.ts';
import { parsePort } from './ssh-config-values.ts';

export interface JumpHop {
  user?: string;
  host: string;
  port?: number;
}

/** Splits host from what follows at ':' or '/' (brackets protect IPv6); null when malformed. */
function splitHost(s: string): { host: string; delimiter: string; rest: string | null } | null {
  let end: number;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return null;
    end = close + 1;
  } else {
    const m = /[:/]/.exec(s);
    end = m ? m.index : s.length;
  }
  if (end === s.length) return { host: s, delimiter: '', rest: null };
  if (s[end] !== ':' && s[end] !== '/') return null;
  return { host: s.slice(0, end), delimiter: s[end], rest: s.slice(end + 1) };
}

/** Removes the brackets around `[host]`. */
function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** misc.c urldecode: `+` is a space, `%XX` a byte; null on a bad escape or an embedded NUL. */
function urlDecode(s: string): string | null {
  if (/%(?![0-9A-Fa-f]{2})/.test(s)) return null;
  let bytes: string;
  try {
    bytes = decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    // Not valid UTF-8 after decoding: keep the bytes as Latin-1 like C would.
    bytes = s.replace(/\+/g, ' ').replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  return bytes.includes('\0') ? null : bytes;
}

/** valid_domain(name, 0): letters, digits, '-', '_', single dots, starting with a letter or digit. */
function isValidDomain(name: string): boolean {
  return /^[A-Za-z0-9]/.test(name) && !name.includes('..') && /^[A-Za-z0-9._-]+$/.test(name);
}

/** `ssh://` URI: the hop, 'not-uri' when the scheme is absent, or null when malformed (paths are not allowed). */
export function parseSshUri(uri: string): JumpHop | 'not-uri' | null {
  if (!uri.startsWith('ssh://')) return 'not-uri';
  let rest = uri.slice('ssh://'.length);
  let user: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const info = rest.slice(0, at).split(';')[0]; // connection parameters are ignored
    if (info === '') return null;
    const decoded = urlDecode(info);
    if (decoded === null) return null;
    user = decoded;
    rest = rest.slice(at + 1);
  }
  const split = splitHost(rest);
  if (!split || split.host === '') return null;
  let host = unbracket(split.host);
  if (!isValidDomain(host)) return null;
  if (host.endsWith('.')) host = host.slice(0, -1); // valid_domain() drops a trailing dot in place
  let port: number | undefined;
  let tail = split.rest;
  if (tail !== null && tail !== '' && split.delimiter === ':') {
    const slash = tail.indexOf('/');
    const p = parsePort(slash < 0 ? tail : tail.slice(0, slash));
    if (p === null) return null;
    port = p;
    tail = slash < 0 ? null : tail.slice(slash + 1);
  }
  if (tail !== null && tail !== '') return null; // a path
  return { ...(user !== undefined && { user }), host, ...(port !== undefined && { port }) };
}

/** `[user@]host[:port]`: the user is everything before the last '@'. */
function parseUserHostPort(s: string): JumpHop | null {
  let rest = s;
  let user: string | undefined;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    if (at === 0) return null;
    user = s.slice(0, at);
    rest = s.slice(at + 1);
  }
  const split = splitHost(rest);
  if (!split || split.delimiter === '/' || split.host === '') return null;
  let port: number | undefined;
  if (split.rest !== null && split.rest !== '') {
    const p = parsePort(split.rest);
    if (p === null) return null;
    port = p;
  }
  return { ...(user !== undefined && { user }), host: unbracket(split.host), ...(port !== undefined && { port }) };
}

/** One hop, or null when OpenSSH would reject it. */
export function tryParseJumpHop(spec: string): JumpHop | null {
  const uri = parseSshUri(spec);
  return uri === 'not-uri' ? parseUserHostPort(spec) : uri;
}

/** Parses a ProxyJump hop "[user@]host[:port]" or "ssh://[user@]host[:port]" into its parts (hosts may be [ipv6]). */
export function parseJumpHop(spec: string): JumpHop {
  const hop = tryParseJumpHop(spec);
  if (!hop) throw new SshConfigError(`invalid ProxyJump hop "${spec}"`);
  return hop;
}

/** A ProxyJump value: the word none, or a valid hop list. */
export type JumpDirective = { kind: 'none' } | { kind: 'hops'; specs: string[]; last: JumpHop };

/**
 * Reads a ProxyJump value the way OpenSSH does: only the exact word `none` (any case)
 * disables jumping — `none # comment` names a host called "none" — a '#' anywhere
 * starts a comment, and every comma-separated hop must parse. ssh's trailing-space
 * trimmer (misc.c rtrim) blanks every whitespace character after the first position, so
 * in effect the value ends at its first blank: `a extra` is just `a`. Null when invalid.
 */
export function parseJumpDirective(value: string): JumpDirective | null {
  if (value.toLowerCase() === 'none') return { kind: 'none' };
  const hash = value.indexOf('#');
  const uncommented = hash < 0 ? value : value.slice(0, hash);
  const blank = uncommented.slice(1).search(/[ \t\n\v\f\r]/);
  const spec = blank < 0 ? uncommented : uncommented.slice(0, blank + 1);
  const specs = spec.split(',');
  const hops = specs.map(tryParseJumpHop);
  if (hops.some((h) => h === null)) return null;
  return { kind: 'hops', specs, last: hops[hops.length - 1] as JumpHop };
}
