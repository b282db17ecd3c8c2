/**
 * What ssh does to the host name between its two configuration passes (ssh.c main and
 * resolve_canonicalize): expand %h in HostName, lowercase it unless it is an address,
 * rewrite numeric addresses to their canonical text, and — with CanonicalizeHostname —
 * try the CanonicalDomains suffixes through the system resolver.
 */
import dns from 'node:dns/promises';
import { SshConfigError } from './ssh-config-error.ts';
import { canonicalAddress, looksLikeAddress, type Family } from './ssh-config-address.ts';
import { asciiLower } from './ssh-config-lexer.ts';

/** CanonicalizeHostname values as OpenSSH stores them. */
export const CANONICALISE_NO = 0;
export const CANONICALISE_ALWAYS = 2;

export interface CanonicalizeSettings {
  mode: number;
  maxDots: number;
  fallbackLocal: boolean;
  domains: string[];
  family: Family;
  /** No ProxyCommand or ProxyJump: ssh itself will connect to the name. */
  direct: boolean;
}

/** Whether the system resolver finds any address for the name (getaddrinfo, as ssh's resolve_host). */
export async function hostResolves(name: string, family: Family): Promise<boolean> {
  try {
    return (await dns.lookup(name, { family, all: true })).length > 0;
  } catch {
    return false;
  }
}

function strcaseEqual(a: string, b: string): boolean {
  return asciiLower(a) === asciiLower(b);
}

export interface CanonicalName {
  host: string;
  /** Whether a numeric address or a DNS name was found (ssh's addrs != NULL). */
  found: boolean;
}

/** resolve_canonicalize(): the possibly rewritten name; throws where ssh exits. */
async function canonicalize(host: string, s: CanonicalizeSettings): Promise<CanonicalName> {
  const numeric = canonicalAddress(host, s.family);
  if (numeric !== null) return { host: strcaseEqual(numeric, host) ? host : numeric, found: true };
  // Looks like an address but is not one (e.g. a bad scope): no further attempts.
  if (looksLikeAddress(host) || s.mode === CANONICALISE_NO) return { host, found: false };
  // A name a proxy will resolve is left alone unless CanonicalizeHostname=always.
  if (!s.direct && s.mode !== CANONICALISE_ALWAYS) return { host, found: false };

  if (host.endsWith('.')) {
    if (await hostResolves(host, s.family)) return { host: host.slice(0, -1), found: true };
  } else {
    const dots = host.split('.').length - 1;
    if (dots > s.maxDots) return { host, found: false };
    for (const domain of s.domains) {
      if (asciiLower(domain) === 'none') break;
      const candidate = `${host}.${domain}.`;
      if (await hostResolves(candidate, s.family)) return { host: candidate.slice(0, -1), found: true };
    }
  }
  if (!s.fallbackLocal) throw new SshConfigError(`Could not resolve host "${host}"`);
  return { host, found: false };
}

/**
 * The name ssh connects to after the first pass: HostName with %h expanded by the
 * caller, lowercased unless it is an address, then canonicalised when asked to or when
 * it is numeric.
 */
export async function canonicalHostName(expanded: string, s: CanonicalizeSettings): Promise<CanonicalName> {
  const isAddress = looksLikeAddress(expanded) || canonicalAddress(expanded, s.family) !== null;
  const host = isAddress ? expanded : asciiLower(expanded);
  if (s.mode !== CANONICALISE_NO || isAddress) return canonicalize(host, s);
  return { host, found: false };
}
