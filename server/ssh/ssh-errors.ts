import { AppError } from '../platform/errors.ts';

/**
 * Why an SSH connection could not be used, with a stable code (API.md) and a message a
 * person can act on. Every failure path of the connector ends in one of these, so a job's
 * log, an API answer and the host page all say the same thing.
 */
export class SshError extends AppError {}

export const hostKeyUnknown = (hostLabel: string, lookupName: string, type: string, sha256: string, otherTypes: string[]) =>
  new SshError(
    409,
    'host_key_unknown',
    `The host key of ${hostLabel} is not trusted yet: it presented ${type} ${sha256}. ` +
      'An administrator can compare and accept it on the Known hosts page.' +
      (otherTypes.length ? ` (Keys of other types are known for ${lookupName}: ${otherTypes.join(', ')}.)` : ''),
    { host: lookupName, type, sha256 },
  );

export const hostKeyChanged = (hostLabel: string, lookupName: string, type: string, sha256: string, known: Array<{ sha256: string; source: string }>) =>
  new SshError(
    409,
    'host_key_changed',
    `The host key of ${hostLabel} has CHANGED: it presented ${type} ${sha256}, but ${known.map((k) => `${k.sha256} (${k.source})`).join(', ')} ` +
      'is trusted. Someone may be intercepting the connection, or the host was reinstalled; the connection was refused.',
    { host: lookupName, type, sha256, known },
  );

export const hostKeyRevoked = (hostLabel: string, lookupName: string, type: string, sha256: string, source: string) =>
  new SshError(409, 'host_key_revoked', `The host key of ${hostLabel} (${type} ${sha256}) is marked @revoked in ${source}; the connection was refused.`, {
    host: lookupName, type, sha256,
  });

export const sshUnreachable = (hostLabel: string, reason: string) =>
  new SshError(502, 'ssh_unreachable', `Could not connect to ${hostLabel}: ${reason}`, { host: hostLabel });

export const sshAuthFailed = (hostLabel: string, user: string, tried: string[], locked: string[]) =>
  new SshError(
    502,
    locked.length ? 'key_locked' : 'ssh_auth_failed',
    `${hostLabel} refused the login as ${user}` +
      (tried.length ? ` (tried ${tried.join(', ')})` : ' (no key or agent was available to try)') +
      (locked.length ? `. Encrypted key${locked.length > 1 ? 's' : ''} ${locked.join(', ')} need${locked.length > 1 ? '' : 's'} a passphrase: unlock it on the host page.` : '.'),
    { host: hostLabel, user, tried, locked },
  );

export const sshUnsupported = (hostLabel: string, what: string) =>
  new SshError(400, 'ssh_unsupported', `Cannot connect to ${hostLabel}: ${what}`, { host: hostLabel });

export const sshConnectionLost = (hostLabel: string, reason: string) =>
  new SshError(502, 'ssh_connection_lost', `The connection to ${hostLabel} was lost: ${reason}`, { host: hostLabel });
