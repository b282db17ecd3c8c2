import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { AuthenticationType, Client as ClientType, ConnectConfig } from 'ssh2';
import type { HostKeyCheck, HostKeyTrust } from './host-key-trust.ts';
import type { KeyStore } from './ssh-keys.ts';
import { keyTarget, type SshHop, type SshPlan } from './ssh-plan.ts';
import {
  checkHostKeyAt, hostKeyAlgorithmsFor, keyTypeOfBlob, knownKeyTypes, sha256Fingerprint, type KnownHostEntry,
} from '../inventory/known-hosts.ts';
import {
  hostKeyChanged, hostKeyRevoked, hostKeyUnknown, sshAuthFailed, sshUnreachable, type SshError,
} from './ssh-errors.ts';

export interface ConnectorOptions {
  /** Used when the host's ssh config sets no ConnectTimeout (seconds there, ms here). */
  connectTimeoutMs: number;
  /** Keepalive used when the ssh config sets no ServerAliveInterval: a silent dead peer is noticed instead of hanging forever. */
  keepaliveMs: number;
  /** SSH_AUTH_SOCK of the console's environment, the agent used when IdentityAgent is unset. */
  agentSocket?: string;
}

/** An authenticated connection to a plan's target, through its jump hosts. */
export interface SshConnection {
  plan: SshPlan;
  client: ClientType;
  /** Resolves once the target (or any hop under it) is gone, with why. */
  closed: Promise<string>;
  /** Calls `fn` when the connection is gone; the returned function unsubscribes (channels come and go on a long-lived connection). */
  onClose(fn: (reason: string) => void): () => void;
  close(): void;
}

/** One attempt of the auth handler, with what to call it in messages (never key material). */
type AuthAttempt = { label: string; method: AuthenticationType | Record<string, unknown> };

/**
 * Opens SSH connections the way OpenSSH would for the same config: each hop verified
 * against its own known hosts (never skipped — ssh2 accepts any key without a verifier, and
 * any non-false return from one, so the verifier calls `verify()` itself), host-key
 * algorithms ordered so a host known by one key type is asked for that type, keys from
 * IdentityFile and the agent from IdentityAgent / SSH_AUTH_SOCK, ConnectTimeout and
 * ServerAlive* applied, and ProxyJump hops chained through `forwardOut`.
 */
export class SshConnector {
  constructor(
    private readonly trust: HostKeyTrust,
    private readonly keys: KeyStore,
    private readonly opts: ConnectorOptions,
  ) {}

  async connect(plan: SshPlan): Promise<SshConnection> {
    const opened: ClientType[] = [];
    const closeAll = () => {
      for (const c of opened.reverse()) c.end();
    };
    try {
      let via: { client: ClientType; hop: SshHop } | null = null;
      for (const hop of [...plan.hops, plan.target]) {
        const sock: Duplex | undefined = via ? await forward(via.client, via.hop, hop) : undefined;
        const client = await this.connectHop(hop, sock);
        opened.push(client);
        via = { client, hop };
      }
    } catch (err) {
      closeAll();
      throw err;
    }
    const clients = [...opened];
    const target = clients[clients.length - 1];
    const closed = new Promise<string>((resolve) => {
      let reason = 'the connection closed';
      for (const c of clients) {
        c.on('error', (err: Error & { level?: string }) => {
          reason = err.level === 'client-timeout' ? 'the server stopped answering keepalives' : err.message;
        });
      }
      target.once('close', () => {
        for (const c of clients) c.end();
        resolve(reason);
      });
      // A jump host dying takes the tunnel with it; the target notices when its socket ends.
    });
    const listeners = new Set<(reason: string) => void>();
    let closedBecause: string | null = null;
    void closed.then((reason) => {
      closedBecause = reason;
      for (const fn of listeners) fn(reason);
      listeners.clear();
    });
    return {
      plan,
      client: target,
      closed,
      onClose(fn) {
        if (closedBecause !== null) {
          const reason = closedBecause;
          queueMicrotask(() => fn(reason));
          return () => {};
        }
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
      close: () => { for (const c of [...clients].reverse()) c.end(); },
    };
  }

  /**
   * The host keys the target presents, one handshake per key family (a server shows one
   * key per handshake), like ssh-keyscan. Jump hosts on the way are connected and verified
   * as usual: a scan through an unverified hop could be answered by anyone.
   */
  async scan(plan: SshPlan): Promise<Buffer[]> {
    const opened: ClientType[] = [];
    try {
      let via: { client: ClientType; hop: SshHop } | null = null;
      for (const hop of plan.hops) {
        const sock = via ? await forward(via.client, via.hop, hop) : undefined;
        const client = await this.connectHop(hop, sock);
        opened.push(client);
        via = { client, hop };
      }
      const t = plan.target.config;
      const timeoutMs = t.connectTimeout ? t.connectTimeout * 1000 : this.opts.connectTimeoutMs;
      const keys: Buffer[] = [];
      for (const family of KEY_FAMILIES) {
        const sock = via ? await forward(via.client, via.hop, plan.target) : undefined;
        const key = await presentedKey(plan.target, family, timeoutMs, sock);
        if (key) keys.push(key);
      }
      return keys;
    } finally {
      for (const c of opened.reverse()) c.end();
    }
  }

  private async connectHop(hop: SshHop, sock?: Duplex): Promise<ClientType> {
    const c = hop.config;
    // A provider that could not read the machine's host keys out of band (OVH) leaves them to
    // the usual trust: known_hosts files and keys an administrator accepted.
    const pinnedKeys = hop.pinned?.hostKeys.length ? hop.pinned.hostKeys : null;
    const check = pinnedKeys
      ? pinnedHostKeyCheck(hop.lookupName, keyTarget(c), pinnedKeys)
      : await this.trust.prepare(keyTarget(c), [...c.userKnownHostsFiles, ...c.globalKnownHostsFiles]);
    const { attempts, locked } = await this.authAttempts(hop);
    const timeoutMs = c.connectTimeout ? c.connectTimeout * 1000 : this.opts.connectTimeoutMs;
    const tried: string[] = [];

    return new Promise<ClientType>((resolve, reject) => {
      const client = new ssh2.Client();
      let refusal: SshError | null = null;
      let settled = false;
      const fail = (err: SshError) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(err);
      };
      client.once('ready', () => {
        settled = true;
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (refusal) return fail(refusal);
        if (err.level === 'client-authentication') return fail(sshAuthFailed(hop.label, c.user, tried, locked));
        if (err.level === 'client-timeout') {
          return fail(sshUnreachable(hop.label, `no answer within ${Math.round(timeoutMs / 1000)} s (ConnectTimeout)`));
        }
        fail(sshUnreachable(hop.label, describeNetworkError(err)));
      });
      client.once('close', () => fail(refusal ?? sshUnreachable(hop.label, 'the server closed the connection before login')));

      const config: ConnectConfig = {
        host: c.hostname,
        port: c.port,
        sock: sock as ConnectConfig['sock'],
        username: c.user,
        readyTimeout: timeoutMs,
        keepaliveInterval: (c.serverAliveInterval || 0) * 1000 || this.opts.keepaliveMs,
        keepaliveCountMax: c.serverAliveCountMax,
        algorithms: { serverHostKey: check.algorithms },
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          const verdict = check.verdict(key);
          const sha256 = sha256Fingerprint(key);
          if (verdict.status === 'trusted') return verify(true);
          if (verdict.status === 'revoked') {
            refusal = hostKeyRevoked(hop.label, hop.lookupName, verdict.entry.keyType, sha256, check.sourceOf(verdict.entry));
          } else if (verdict.status === 'changed') {
            refusal = hostKeyChanged(hop.label, hop.lookupName, keyTypeOfBlob(key), sha256,
              verdict.known.map((e) => ({ sha256: sha256Fingerprint(e.key), source: check.sourceOf(e) })));
          } else {
            refusal = hostKeyUnknown(hop.label, hop.lookupName, keyTypeOfBlob(key), sha256, verdict.knownTypes);
            // Recorded so an administrator can compare the fingerprint and accept it (a
            // pinned machine's keys come from its provider, never from an acceptance).
            if (!pinnedKeys) void this.trust.notePending(hop.lookupName, key).catch(() => {});
          }
          verify(false);
        },
        authHandler: (_methodsLeft, _partial, next) => {
          const attempt = attempts.shift();
          if (!attempt) return next(false as unknown as AuthenticationType);
          tried.push(attempt.label);
          next(attempt.method as AuthenticationType);
        },
      };
      client.connect(config);
    });
  }

  private async authAttempts(hop: SshHop): Promise<{ attempts: AuthAttempt[]; locked: string[] }> {
    const c = hop.config;
    if (hop.pinned) {
      return { attempts: [{ label: hop.pinned.keyLabel, method: { type: 'publickey', username: c.user, key: hop.pinned.privateKey } }], locked: [] };
    }
    const attempts: AuthAttempt[] = [];
    const locked: string[] = [];
    const agent = agentPath(c.identityAgent, this.opts.agentSocket);
    // With IdentitiesOnly the agent may only sign for the listed files; offering every
    // agent key could trip the server's MaxAuthTries before the right one.
    if (agent && !c.identitiesOnly) {
      attempts.push({ label: `agent ${agent}`, method: { type: 'agent', username: c.user, agent } });
    }
    for (const file of c.identityFiles) {
      const id = await this.keys.load(file);
      if (id.status === 'ready') attempts.push({ label: file, method: { type: 'publickey', username: c.user, key: id.key } });
      else if (id.status === 'locked') locked.push(file);
    }
    return { attempts, locked };
  }
}

/** The trust decision for a machine whose host keys the console read out of band: those keys and nothing else. */
function pinnedHostKeyCheck(lookupName: string, target: { host: string; port: number }, lines: string[]): HostKeyCheck {
  const entries: KnownHostEntry[] = lines.flatMap((line) => {
    const [type, b64] = line.trim().split(/\s+/);
    if (!type || !b64) return [];
    const key = Buffer.from(b64, 'base64');
    return [{ file: PINNED_SOURCE, line: 0, marker: null, patterns: [lookupName], hashed: null, keyType: keyTypeOfBlob(key), key, comment: '' }];
  });
  return {
    lookupName,
    algorithms: hostKeyAlgorithmsFor(knownKeyTypes(entries, lookupName)),
    verdict: (blob) => checkHostKeyAt(entries, { host: target.host, port: target.port, hostKeyAlias: lookupName }, blob),
    sourceOf: () => PINNED_SOURCE,
  };
}

const PINNED_SOURCE = 'pinned by the VM provider';

/** Host-key algorithm families asked for in turn by `scan`. */
const KEY_FAMILIES: string[][] = [
  ['ssh-ed25519'],
  ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'],
  ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
];

/** Starts a handshake offering only `algorithms` and stops at the host key: the key, or null when the server has none of them. */
function presentedKey(hop: SshHop, algorithms: string[], timeoutMs: number, sock?: Duplex): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let key: Buffer | null = null;
    let done = false;
    const finish = (err?: SshError) => {
      if (done) return;
      done = true;
      client.end();
      if (err && !key) reject(err);
      else resolve(key);
    };
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (key) return finish();
      // "no matching host key format": the server has no key of this family.
      if (err.level === 'handshake' || /no matching|handshake failed/i.test(err.message)) return finish();
      if (err.level === 'client-timeout') return finish(sshUnreachable(hop.label, `no answer within ${Math.round(timeoutMs / 1000)} s`));
      finish(sshUnreachable(hop.label, describeNetworkError(err)));
    });
    client.on('close', () => finish());
    client.on('ready', () => finish());
    client.connect({
      host: hop.config.hostname,
      port: hop.config.port,
      sock: sock as ConnectConfig['sock'],
      username: hop.config.user,
      readyTimeout: timeoutMs,
      algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: (k: Buffer, verify: (ok: boolean) => void) => {
        key = Buffer.from(k);
        verify(false);
      },
    });
  });
}

/** IdentityAgent as ssh reads it: unset or SSH_AUTH_SOCK → the environment's socket; `$VAR` → that variable (read now, as ssh does at connect time). */
function agentPath(identityAgent: string | null, envSocket: string | undefined): string | null {
  if (identityAgent === 'none') return null;
  if (!identityAgent || identityAgent === 'SSH_AUTH_SOCK' || identityAgent === '$SSH_AUTH_SOCK') return envSocket || null;
  if (identityAgent.startsWith('$')) return process.env[identityAgent.slice(1)] || null;
  return identityAgent;
}

/** Opens a direct-tcpip channel from `via` to the next hop (OpenSSH's ProxyJump). */
function forward(via: ClientType, viaHop: SshHop, next: SshHop): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    via.forwardOut('127.0.0.1', 0, next.config.hostname, next.config.port, (err, stream) => {
      if (err) reject(sshUnreachable(next.label, `the jump host ${viaHop.label} could not reach it (${err.message})`));
      else resolve(stream);
    });
  });
}

function describeNetworkError(err: Error & { code?: string }): string {
  switch (err.code) {
    case 'ECONNREFUSED': return 'connection refused (is sshd running on that port?)';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'the host name does not resolve';
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'no route to the host';
    case 'ETIMEDOUT': return 'the connection timed out';
    case 'ECONNRESET': return 'the connection was reset';
    default: return err.message;
  }
}
