/**
 * Numeric host addresses the way ssh sees them through getaddrinfo(AI_NUMERICHOST) and
 * getnameinfo(NI_NUMERICHOST) on glibc: IPv4 in every inet_aton form (`127.1`,
 * `0x7f.1`, `010.1.1.1` octal), IPv6 with optional `%scope`, printed back in inet_ntop's
 * canonical text. ssh replaces a numeric HostName with that canonical text — unless the
 * two differ only in letter case — and never lowercases an address otherwise.
 */
import fs from 'node:fs';

/** Address families as AddressFamily selects them: 0 any, 4 inet, 6 inet6. */
export type Family = 0 | 4 | 6;

/** inet_aton_exact: 1–4 parts, each decimal, 0-prefixed octal or 0x-prefixed hex. */
function parseIPv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length > 4) return null;
  const values: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0[xX][0-9A-Fa-f]*$/.test(part)) value = part.length > 2 ? parseInt(part.slice(2), 16) : 0;
    else if (/^0[0-7]*$/.test(part)) value = parseInt(part, 8);
    else if (/^[1-9][0-9]*$/.test(part)) value = Number(part);
    else return null;
    values.push(value);
  }
  const last = values[values.length - 1];
  const lastMax = [0xffffffff, 0xffffff, 0xffff, 0xff][values.length - 1];
  if (values.slice(0, -1).some((v) => v > 0xff) || last > lastMax) return null;
  const bytes = values.slice(0, -1);
  const tailBytes = 4 - bytes.length;
  for (let i = tailBytes - 1; i >= 0; i--) bytes.push(Math.floor(last / 256 ** i) % 256);
  return bytes;
}

/** inet_pton's strict dotted quad (used inside IPv6 text): four decimal parts, no leading zeros. */
function parseDottedQuad(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const bytes = parts.map((p) => (/^(0|[1-9][0-9]{0,2})$/.test(p) ? Number(p) : 256));
  return bytes.every((b) => b <= 255) ? bytes : null;
}

/** inet_pton(AF_INET6): eight 16-bit words, or null. */
function parseIPv6(s: string): number[] | null {
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const toWords = (part: string, allowQuad: boolean): number[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (allowQuad && i === groups.length - 1 && g.includes('.')) {
        const quad = parseDottedQuad(g);
        if (!quad) return null;
        words.push(quad[0] * 256 + quad[1], quad[2] * 256 + quad[3]);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(g)) {
        words.push(parseInt(g, 16));
      } else {
        return null;
      }
    }
    return words;
  };
  if (halves.length === 1) {
    const words = toWords(s, true);
    return words && words.length === 8 ? words : null;
  }
  const head = toWords(halves[0], false);
  const tail = toWords(halves[1], true);
  if (!head || !tail || head.length + tail.length > 7) return null; // '::' stands for at least one word
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** glibc inet_ntop(AF_INET6): lowercase, longest run (≥2) of zero words as '::', IPv4-mapped/compatible as dotted quad. */
function formatIPv6(words: number[]): string {
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      cur = cur.base < 0 ? { base: i, len: 1 } : { base: cur.base, len: cur.len + 1 };
      if (cur.len > best.len) best = cur;
    } else {
      cur = { base: -1, len: 0 };
    }
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best.base >= 0 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      out += `${words[6] >> 8}.${words[6] & 0xff}.${words[7] >> 8}.${words[7] & 0xff}`;
      break;
    }
    out += words[i].toString(16);
  }
  if (best.base >= 0 && best.base + best.len === 8) out += ':';
  return out;
}

function isLinkLocalScoped(words: number[]): boolean {
  const linkLocal = (words[0] & 0xffc0) === 0xfe80;
  const multicastLinkLocal = (words[0] & 0xff0f) === 0xff02;
  const multicastNodeLocal = (words[0] & 0xff0f) === 0xff01;
  return linkLocal || multicastLinkLocal || multicastNodeLocal;
}

function interfaceIndex(name: string): number | null {
  if (name.includes('/') || name === '.' || name === '..') return null;
  try {
    return Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
  } catch {
    return null;
  }
}

function interfaceName(index: number): string | null {
  try {
    for (const name of fs.readdirSync('/sys/class/net')) if (interfaceIndex(name) === index) return name;
  } catch {
    // no sysfs: the scope stays numeric
  }
  return null;
}

/** IPv6 text with an optional %scope, canonicalised; null when getaddrinfo would reject it. */
function canonicalIPv6(s: string): string | null {
  const pct = s.indexOf('%');
  const words = parseIPv6(pct < 0 ? s : s.slice(0, pct));
  if (!words) return null;
  const text = formatIPv6(words);
  if (pct < 0) return text;
  const scope = s.slice(pct + 1);
  // Interface names are only accepted for link-local style addresses; numbers always.
  let id = isLinkLocalScoped(words) ? interfaceIndex(scope) : null;
  if (id === null && /^[0-9]/.test(scope)) id = /^[0-9]+$/.test(scope) && Number(scope) <= 0xffffffff ? Number(scope) : null;
  if (id === null) return null;
  if (id === 0) return text;
  const name = (words[0] & 0xffc0) === 0xfe80 || (words[0] & 0xff0f) === 0xff02 ? interfaceName(id) : null;
  return `${text}%${name ?? id}`;
}

/** The canonical text of a numeric address, or null when `name` is not one (for this family). */
export function canonicalAddress(name: string, family: Family): string | null {
  if (family !== 6) {
    const v4 = parseIPv4(name);
    if (v4) return v4.join('.');
  }
  if (family !== 4 && name.includes(':')) return canonicalIPv6(name);
  return null;
}

/** ssh.c is_addr_fast: anything with ':' or '%', or only digits and dots, is taken for an address. */
export function looksLikeAddress(name: string): boolean {
  return name.includes('%') || name.includes(':') || /^[0-9.]*$/.test(name);
}
