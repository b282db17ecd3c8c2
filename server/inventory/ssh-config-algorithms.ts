/**
 * Algorithm-list checks ssh makes while reading Ciphers, MACs, KexAlgorithms and the
 * key-type lists (HostKeyAlgorithms and friends). A list starting with '-' is not
 * checked; '+' and '^' prefixes are dropped first; checking stops quietly at an empty
 * entry (`a,,junk` passes). The names are those Debian's OpenSSH 9.2 (OpenSSL build)
 * reports with `ssh -Q`.
 */
import { matchPatternList } from './ssh-config-patterns.ts';

const CIPHERS = new Set([
  '3des-cbc', 'aes128-cbc', 'aes192-cbc', 'aes256-cbc', 'aes128-ctr', 'aes192-ctr', 'aes256-ctr', 'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com',
]);
const MACS = new Set([
  'hmac-sha1', 'hmac-sha1-96', 'hmac-sha2-256', 'hmac-sha2-512', 'hmac-md5', 'hmac-md5-96', 'umac-64@openssh.com', 'umac-128@openssh.com',
  'hmac-sha1-etm@openssh.com', 'hmac-sha1-96-etm@openssh.com', 'hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com',
  'hmac-md5-etm@openssh.com', 'hmac-md5-96-etm@openssh.com', 'umac-64-etm@openssh.com', 'umac-128-etm@openssh.com',
]);
const KEX = new Set([
  'diffie-hellman-group1-sha1', 'diffie-hellman-group14-sha1', 'diffie-hellman-group14-sha256', 'diffie-hellman-group16-sha512',
  'diffie-hellman-group18-sha512', 'diffie-hellman-group-exchange-sha1', 'diffie-hellman-group-exchange-sha256', 'ecdh-sha2-nistp256',
  'ecdh-sha2-nistp384', 'ecdh-sha2-nistp521', 'curve25519-sha256', 'curve25519-sha256@libssh.org', 'sntrup761x25519-sha512',
  'sntrup761x25519-sha512@openssh.com',
]);
const KEY_TYPES = [
  'ssh-ed25519', 'ssh-ed25519-cert-v01@openssh.com', 'sk-ssh-ed25519@openssh.com', 'sk-ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp521-cert-v01@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com',
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com', 'webauthn-sk-ecdsa-sha2-nistp256@openssh.com', 'ssh-dss', 'ssh-dss-cert-v01@openssh.com',
  'ssh-rsa', 'ssh-rsa-cert-v01@openssh.com', 'rsa-sha2-256', 'rsa-sha2-256-cert-v01@openssh.com', 'rsa-sha2-512',
  'rsa-sha2-512-cert-v01@openssh.com',
];
/** Plain (non-certificate) key types may also be named by their short name, in any case. */
const KEY_SHORT_NAMES = new Set(['ed25519', 'ed25519-sk', 'ecdsa', 'ecdsa-sk', 'dsa', 'rsa']);

export type AlgorithmKind = 'ciphers' | 'macs' | 'kex' | 'key-types';

/** The entries checked: prefix rules applied, stopping at the first empty entry. */
function entries(value: string): string[] | null {
  const list = value.startsWith('+') || value.startsWith('^') ? value.slice(1) : value;
  if (list === '') return null;
  const out: string[] = [];
  for (const entry of list.split(',')) {
    if (entry === '') break;
    out.push(entry);
  }
  return out;
}

function knownKeyType(name: string): boolean {
  if (KEY_TYPES.includes(name) || KEY_SHORT_NAMES.has(name.toLowerCase())) return true;
  // A pattern is accepted when it says anything (positively or negatively) about a known type.
  return KEY_TYPES.some((t) => matchPatternList(t, name, false) !== 0);
}

/** Whether ssh accepts this value for the given kind of algorithm list. */
export function isAcceptedAlgorithmList(value: string, kind: AlgorithmKind): boolean {
  if (value.startsWith('-')) return true;
  const names = entries(value);
  if (names === null) return false;
  const known = kind === 'key-types' ? knownKeyType : (n: string) => (kind === 'ciphers' ? CIPHERS : kind === 'macs' ? MACS : KEX).has(n);
  return names.every(known);
}
