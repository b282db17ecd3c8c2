/**
 * Value parsers with OpenSSH's exact acceptance rules (misc.c convtime, a2port,
 * atoi_err; readconf.c multistate tables). A value these reject makes ssh refuse the file.
 */
import fs from 'node:fs';
import { asciiLower } from './ssh-config-lexer.ts';

const INT_MAX = 2 ** 31 - 1;

/** strtoll-style decimal: optional leading whitespace and sign, then digits only. */
function strictDecimal(s: string): number | null {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)$/.exec(s);
  return m ? Number(m[1]) : null;
}

/** A non-negative int as atoi_err() accepts it (0…INT_MAX), else null. */
export function parseInteger(s: string): number | null {
  const n = strictDecimal(s);
  return n === null || n < 0 || n > INT_MAX ? null : n;
}

let services: Map<string, number> | undefined;

/** TCP service names from /etc/services, as getservbyname(name, "tcp") finds them. */
function tcpServices(): Map<string, number> {
  if (services) return services;
  services = new Map();
  let text = '';
  try {
    text = fs.readFileSync('/etc/services', 'utf8');
  } catch {
    // no services database: only numeric ports
  }
  for (const line of text.split('\n')) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/);
    const m = /^(\d+)\/tcp$/.exec(fields[1] ?? '');
    if (!m) continue;
    for (const name of [fields[0], ...fields.slice(2)]) if (!services.has(name)) services.set(name, Number(m[1]));
  }
  return services;
}

/** A port number or TCP service name (`Port ssh` is 22); null when invalid or 0. */
export function parsePort(s: string): number | null {
  const n = strictDecimal(s);
  const port = n !== null ? (n >= 0 && n <= 65535 ? n : null) : (tcpServices().get(s) ?? null);
  return port === null || port <= 0 ? null : port;
}

const TIME_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds from a time spec like `90`, `1m30s` or `2h` (convtime); null when invalid. */
export function parseTime(s: string): number | null {
  if (s === '') return null;
  let total = 0;
  let rest = s;
  while (rest !== '') {
    const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)(.?)/.exec(rest);
    const secs = m ? Number(m[2]) : NaN;
    if (!m || (m[1] === '-' && secs !== 0)) return null;
    const unit = asciiLower(m[3]);
    const multiplier = unit === '' ? 1 : TIME_UNITS[unit];
    if (multiplier === undefined || secs > INT_MAX / multiplier) return null;
    total += secs * multiplier;
    if (total > INT_MAX) return null;
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** A keyword's accepted words (compared case-insensitively) and what each means. */
export type Multistate = Record<string, number>;

export const FLAG: Multistate = { true: 1, false: 0, yes: 1, no: 0 };
export const YES_NO_ASK: Multistate = { ...FLAG, ask: 2 };

/** StrictHostKeyChecking words; `ssh -G` prints the first word of each value (true/false/ask/accept-new). */
export const STRICT_HOST_KEY: Multistate = { true: 2, false: 0, yes: 2, no: 0, ask: 3, off: 0, 'accept-new': 1 };
export const CANONICALIZE_HOSTNAME: Multistate = { true: 1, false: 0, yes: 1, no: 0, always: 2 };

export function parseMultistate(s: string | undefined, table: Multistate): number | null {
  if (s === undefined || s === '') return null;
  const lower = asciiLower(s);
  return Object.hasOwn(table, lower) ? table[lower] : null;
}

/** An environment variable name as valid_env_name() accepts it. */
export function isValidEnvName(name: string): boolean {
  return /^[A-Za-z0-9_]+$/.test(name);
}
