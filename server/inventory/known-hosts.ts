/**
 * OpenSSH known_hosts files: parsing, host matching and the host key decision, with the
 * semantics of OpenSSH 9.2's hostfile.c and match.c. Pure: the caller reads the files.
 */
import { createHash, createHmac } from 'node:crypto';
import type { ServerHostKeyAlgorithm } from 'ssh2';

export interface KnownHostEntry {
  file: string;
  line: number;
  marker: 'revoked' | 'cert-authority' | null;
  /** Host patterns as written (comma list, may contain * ? ! and [host]:port), or null for a hashed entry. */
  patterns: string[] | null;
  /** For a hashed entry |1|salt|hmac: salt and hmac as Buffers. */
  hashed: { salt: Buffer; hmac: Buffer } | null;
  /** The key type of the blob (a line may also name an RSA key rsa-sha2-256/512; it is stored as ssh-rsa). */
  keyType: string;
  /** The decoded wire blob. */
  key: Buffer;
  comment: string;
}

export interface KnownHostsError {
  file: string;
  line: number;
  reason: string;
}

/** What ssh would decide about a presented host key; see checkHostKey for the exact rules. */
export type HostKeyVerdict =
  /** A plain entry for the name holds this key. */
  | { status: 'trusted'; entry: KnownHostEntry }
  /** A `@revoked` entry for the name holds this key: wins over everything. */
  | { status: 'revoked'; entry: KnownHostEntry }
  /** Entries for the name exist, of any key type, but none holds this key. */
  | { status: 'changed'; known: KnownHostEntry[] }
  /** No plain entry for the name (so `knownTypes` is always empty under ssh's rules). */
  | { status: 'unknown'; knownTypes: string[] };

/** Key types OpenSSH 9.2 reads from a known_hosts line (without XMSS, which Debian does not build). */
const PLAIN_KEY_TYPES = [
  'ssh-ed25519', 'ssh-rsa', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com',
];
const CERT_SUFFIX = '-cert-v01@openssh.com';
const CERT_KEY_TYPES = PLAIN_KEY_TYPES.map((t) => t.replace(/@openssh\.com$/, '') + CERT_SUFFIX);

/** Signature algorithm names OpenSSH also accepts as the type of an RSA line, mapped to the blob's type. */
const LINE_TYPE_ALIASES: Record<string, string> = {
  'rsa-sha2-256': 'ssh-rsa',
  'rsa-sha2-512': 'ssh-rsa',
  [`rsa-sha2-256${CERT_SUFFIX}`]: `ssh-rsa${CERT_SUFFIX}`,
  [`rsa-sha2-512${CERT_SUFFIX}`]: `ssh-rsa${CERT_SUFFIX}`,
};
const KNOWN_KEY_TYPES = new Set([...PLAIN_KEY_TYPES, ...CERT_KEY_TYPES]);

const HASH_MAGIC = '|1|';
const SHA1_BYTES = 20;
/** match.c copies each subpattern into a 1024-byte buffer and gives up on longer ones. */
const MAX_SUBPATTERN = 1023;

// ---------------------------------------------------------------------------------------
// Wire blobs

/** Reads the SSH strings of a wire blob; null when the blob is not a sequence of complete strings. */
function sshStrings(blob: Buffer, limit = Infinity): Buffer[] | null {
  const out: Buffer[] = [];
  let at = 0;
  while (at < blob.length && out.length < limit) {
    if (at + 4 > blob.length) return null;
    const len = blob.readUInt32BE(at);
    if (at + 4 + len > blob.length) return null;
    out.push(blob.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return out;
}

/** The key type named inside a wire blob (first SSH string). */
export function keyTypeOfBlob(blob: Buffer): string {
  const first = sshStrings(blob, 1)?.[0];
  if (!first || first.length === 0) throw new Error('not an SSH public key blob');
  return first.toString('latin1');
}

/** Bits in an unsigned big-endian number (an SSH mpint). */
function bitLength(n: Buffer): number {
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  return i === n.length ? 0 : (n.length - i - 1) * 8 + n[i].toString(2).length;
}

/**
 * Whether the fields after the type have the shape of that key type, the way OpenSSH
 * refuses a line whose blob it cannot decode. Certificates are only checked by type:
 * nothing here uses them.
 */
function blobIsWellFormed(type: string, blob: Buffer): boolean {
  const fields = sshStrings(blob);
  if (!fields) return false;
  const rest = fields.slice(1);
  const curve = type.match(/^(?:sk-)?ecdsa-sha2-(nistp\d+)/)?.[1];
  switch (type) {
    case 'ssh-ed25519':
      return rest.length === 1 && rest[0].length === 32;
    case 'sk-ssh-ed25519@openssh.com':
      return rest.length === 2 && rest[0].length === 32;
    case 'ssh-rsa':
      // OpenSSH refuses RSA moduli under 1024 bits when it reads a key.
      return rest.length === 2 && rest[0].length > 0 && bitLength(rest[1]) >= 1024;
    case 'ssh-dss':
      return rest.length === 4 && rest.every((f) => f.length > 0);
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521':
      return rest.length === 2 && rest[0].toString('latin1') === curve && rest[1].length > 0;
    case 'sk-ecdsa-sha2-nistp256@openssh.com':
      return rest.length === 3 && rest[0].toString('latin1') === curve && rest[1].length > 0;
    default:
      return CERT_KEY_TYPES.includes(type);
  }
}

/** 'SHA256:' + base64 (no padding) of sha256(blob), as `ssh-keygen -lf` shows it. */
export function sha256Fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** Strict base64 (OpenSSH's decoder refuses stray characters); null when `text` is not canonical base64. */
function decodeBase64(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  const buf = Buffer.from(text, 'base64');
  return buf.toString('base64') === text ? buf : null;
}

// ---------------------------------------------------------------------------------------
// Parsing

type Marker = KnownHostEntry['marker'];
const MARKERS: Record<string, Exclude<Marker, null>> = { '@revoked': 'revoked', '@cert-authority': 'cert-authority' };

/** Splits off the first field (space or tab separated, as hostfile.c does). */
function takeField(text: string): [string, string] {
  const end = text.search(/[ \t]/);
  if (end === -1) return [text, ''];
  return [text.slice(0, end), text.slice(end).replace(/^[ \t]+/, '')];
}

function parseHashedHost(field: string): KnownHostEntry['hashed'] {
  if (!field.startsWith(HASH_MAGIC)) return null;
  const parts = field.slice(HASH_MAGIC.length).split('|');
  if (parts.length !== 2) return null;
  const salt = decodeBase64(parts[0]);
  const hmac = decodeBase64(parts[1]);
  if (!salt || !hmac || salt.length !== SHA1_BYTES || hmac.length !== SHA1_BYTES) return null;
  return { salt, hmac };
}

type LineResult = { entry: Omit<KnownHostEntry, 'file' | 'line'> } | { reason: string } | null;

/** One line: an entry, a reason it is unusable, or null for a blank or comment line. */
function parseLine(raw: string): LineResult {
  let rest = raw.replace(/\r$/, '').replace(/^[ \t]+/, '');
  if (rest === '' || rest.startsWith('#')) return null;

  let marker: Marker = null;
  if (rest.startsWith('@')) {
    const [word, after] = takeField(rest);
    marker = MARKERS[word] ?? null;
    if (!marker) return { reason: `invalid marker "${word}"` };
    if (after.startsWith('@')) return { reason: 'more than one marker' };
    rest = after;
  }

  const [hosts, keyPart] = takeField(rest);
  if (keyPart === '' || keyPart.startsWith('#')) return { reason: 'no key after the host names' };

  let hashed: KnownHostEntry['hashed'] = null;
  let patterns: string[] | null = null;
  if (hosts.startsWith('|')) {
    hashed = parseHashedHost(hosts);
    if (!hashed) return { reason: 'invalid hashed host name' };
  } else {
    patterns = hosts.split(',');
  }

  const [lineType, afterType] = takeField(keyPart);
  if (!KNOWN_KEY_TYPES.has(lineType) && !LINE_TYPE_ALIASES[lineType]) {
    return { reason: /^\d+$/.test(lineType) ? 'SSH protocol 1 key (not supported)' : `unknown key type "${lineType}"` };
  }
  const [base64, comment] = takeField(afterType);
  if (base64 === '') return { reason: 'no key after the key type' };
  const key = decodeBase64(base64);
  if (!key) return { reason: 'key is not valid base64' };

  const keyType = LINE_TYPE_ALIASES[lineType] ?? lineType;
  let blobType: string;
  try {
    blobType = keyTypeOfBlob(key);
  } catch {
    return { reason: 'key blob is malformed' };
  }
  if (blobType !== keyType) return { reason: `key blob is ${blobType} but the line says ${lineType}` };
  if (!blobIsWellFormed(keyType, key)) return { reason: `malformed ${keyType} key` };

  return { entry: { marker, patterns, hashed, keyType, key, comment: comment.replace(/[ \t]+$/, '') } };
}

/**
 * Every usable line of a known_hosts file. Comments and blank lines are skipped silently;
 * lines OpenSSH would skip as unparsable are skipped too and reported with file:line.
 */
export function parseKnownHosts(text: string, file: string): { entries: KnownHostEntry[]; errors: KnownHostsError[] } {
  const entries: KnownHostEntry[] = [];
  const errors: KnownHostsError[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const result = parseLine(raw);
    if (!result) return;
    if ('reason' in result) errors.push({ file, line: i + 1, reason: result.reason });
    else entries.push({ file, line: i + 1, ...result.entry });
  });
  return { entries, errors };
}

// ---------------------------------------------------------------------------------------
// Host names

/** OpenSSH lowercases host names byte by byte in the C locale: ASCII letters only. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * The name OpenSSH looks up: `host` when port is 22, else `[host]:port`. Host is the
 * lowercased HostName. With a HostKeyAlias, ssh looks up the (lowercased) alias alone,
 * with no port: pass it as the third argument to get that.
 */
export function knownHostsLookupName(host: string, port: number, hostKeyAlias?: string): string {
  if (hostKeyAlias) return asciiLower(hostKeyAlias);
  const name = asciiLower(host);
  return port === 22 || port === 0 ? name : `[${name}]:${port}`;
}

/** match.c's match_pattern: `*` any run of characters, `?` exactly one. */
function globMatches(s: string, pattern: string): boolean {
  let si = 0;
  let pi = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    if (pi < pattern.length && (pattern[pi] === '?' || pattern[pi] === s[si])) {
      si++;
      pi++;
    } else if (pi < pattern.length && pattern[pi] === '*') {
      starP = pi++;
      starS = si;
    } else if (starP !== -1) {
      pi = starP + 1;
      si = ++starS;
    } else {
      return false;
    }
  }
  while (pattern[pi] === '*') pi++;
  return pi === pattern.length;
}

/**
 * match.c's match_pattern_list with lowercasing: 1 for a positive match, -1 as soon as a
 * negated subpattern matches, 0 otherwise (also for an over-long subpattern).
 */
function matchPatternList(name: string, patterns: string[]): -1 | 0 | 1 {
  let positive = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const sub = asciiLower(negated ? raw.slice(1) : raw);
    if (sub.length >= MAX_SUBPATTERN) return 0;
    if (globMatches(name, sub)) {
      if (negated) return -1;
      positive = true;
    }
  }
  return positive ? 1 : 0;
}

/**
 * Whether an entry's host part matches a lookup name: hashed = HMAC-SHA1(salt, name);
 * patterns with wildcards and negation as OpenSSH's match_hostfile (a matching negated
 * pattern makes the line not match).
 */
export function entryMatches(entry: KnownHostEntry, lookupName: string): boolean {
  if (entry.hashed) {
    const mac = createHmac('sha1', entry.hashed.salt).update(lookupName).digest();
    return mac.equals(entry.hashed.hmac);
  }
  return entry.patterns !== null && matchPatternList(asciiLower(lookupName), entry.patterns) === 1;
}

// ---------------------------------------------------------------------------------------
// The host key decision

/**
 * Checks a presented key (wire blob) against the entries for one lookup name, as ssh's
 * check_key_in_hostkeys does:
 * - `revoked`: a matching `@revoked` line holds this key. It wins over everything. Like
 *   OpenSSH, the line's host patterns must match (write `@revoked *` to revoke everywhere).
 * - `trusted`: a plain line for the name holds this key.
 * - `changed`: plain lines for the name exist but none holds this key. OpenSSH treats a
 *   key of a type not known for the host the same way ("REMOTE HOST IDENTIFICATION HAS
 *   CHANGED ... Offending RSA key"), so `known` lists every entry for the name, of any type.
 * - `unknown`: no plain line for the name. `knownTypes` is therefore always empty; it is
 *   kept so callers can show the types uniformly.
 * `@cert-authority` lines are ignored: host certificates are not used. RSA keys offered as
 * rsa-sha2-256/512 carry ssh-rsa in the blob, so blobs compare directly.
 */
export function checkHostKey(entries: KnownHostEntry[], lookupName: string, presented: Buffer): HostKeyVerdict {
  const forName = entries.filter((e) => e.marker !== 'cert-authority' && entryMatches(e, lookupName));
  const revoked = forName.find((e) => e.marker === 'revoked' && e.key.equals(presented));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = forName.filter((e) => e.marker === null);
  const trusted = plain.find((e) => e.key.equals(presented));
  if (trusted) return { status: 'trusted', entry: trusted };
  if (plain.length > 0) return { status: 'changed', known: plain };
  return { status: 'unknown', knownTypes: [] };
}

/**
 * ssh's whole decision for a connection to host:port: the `[host]:port` lookup, and, when
 * nothing at all is known under it, a key trusted under the bare host name (ssh's
 * "found matching key w/out port"). Not done with a HostKeyAlias, as in ssh.
 */
export function checkHostKeyAt(
  entries: KnownHostEntry[], target: { host: string; port: number; hostKeyAlias?: string }, presented: Buffer,
): HostKeyVerdict {
  const verdict = checkHostKey(entries, knownHostsLookupName(target.host, target.port, target.hostKeyAlias), presented);
  if (verdict.status !== 'unknown' || target.hostKeyAlias || target.port === 22 || target.port === 0) return verdict;
  const withoutPort = checkHostKey(entries, knownHostsLookupName(target.host, 22), presented);
  return withoutPort.status === 'trusted' ? withoutPort : verdict;
}

/**
 * Key types known for a name (non-revoked, non-CA entries that match it), in file order
 * without duplicates: used to order ssh2's `algorithms.serverHostKey` so a host known only
 * by its RSA key is asked for RSA.
 */
export function knownKeyTypes(entries: KnownHostEntry[], lookupName: string): string[] {
  const types: string[] = [];
  for (const e of entries) {
    if (e.marker === null && !types.includes(e.keyType) && entryMatches(e, lookupName)) types.push(e.keyType);
  }
  return types;
}

/** ssh2 1.17's default server host key algorithms, in its order (all in its supported list). */
const SSH2_DEFAULT_HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa',
];
/** Host key algorithms ssh2 can verify for each key type; types it cannot use (security keys, certificates) have none. */
const ALGORITHMS_FOR_KEY_TYPE: Record<string, ServerHostKeyAlgorithm[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  // SHA-2 signatures first: OpenSSH servers refuse SHA-1 ssh-rsa by default.
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ssh-dss': ['ssh-dss'],
};

/**
 * Maps known key types to ssh2 host-key algorithm names, known first then ssh2's defaults
 * (ssh-rsa → rsa-sha2-512, rsa-sha2-256, ssh-rsa), like ssh's order_hostkeyalgs: the server
 * then picks a key we can check, and a key of any other type still shows as `changed`.
 * Returns an exact array for `algorithms.serverHostKey`.
 */
export function hostKeyAlgorithmsFor(knownTypes: string[]): ServerHostKeyAlgorithm[] {
  const known = knownTypes.flatMap((t) => ALGORITHMS_FOR_KEY_TYPE[t] ?? []);
  return [...new Set([...known, ...SSH2_DEFAULT_HOST_KEY_ALGORITHMS])];
}

/** One known_hosts line for an accepted key (plain, not hashed). */
export function formatKnownHostsLine(lookupName: string, keyType: string, blob: Buffer): string {
  // A name with spaces, commas or a leading marker character would read back as something else.
  if (lookupName === '' || /[\s,]/.test(lookupName) || /^[@#|!]/.test(lookupName)) {
    throw new Error(`cannot write "${lookupName}" as a known_hosts host name`);
  }
  const type = LINE_TYPE_ALIASES[keyType] ?? keyType;
  if (keyTypeOfBlob(blob) !== type) throw new Error(`key blob is ${keyTypeOfBlob(blob)}, not ${keyType}`);
  return `${lookupName} ${type} ${blob.toString('base64')}`;
}
