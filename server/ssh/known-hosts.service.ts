import type { User } from '../../src/lib/shared/auth.ts';
import type { KnownHostKey, PresentedHostKeys } from '../../src/lib/shared/inventory.ts';
import type { HostRepository, KnownKeyRow } from '../inventory/host.repository.ts';
import type { InventoryService } from '../inventory/inventory.service.ts';
import { keyTypeOfBlob, sha256Fingerprint } from '../inventory/known-hosts.ts';
import type { AuditLog } from '../platform/audit.ts';
import { AppError, notFound, validationFailed } from '../platform/errors.ts';
import type { HostKeyTrust } from './host-key-trust.ts';
import type { SshConnector } from './ssh-connector.ts';
import { keyTarget, type SshPlan } from './ssh-plan.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function toKnownHostKey(r: KnownKeyRow): KnownHostKey {
  return {
    id: r.id, host: r.lookupName, type: r.keyType, sha256: r.fingerprint, status: r.status, source: 'console',
    acceptedBy: r.acceptedByName, acceptedAt: r.acceptedAt, firstSeenAt: r.firstSeenAt, lastSeenAt: r.lastSeenAt,
  };
}

/**
 * The console's own trusted host keys: what a server presents (asked on demand, or
 * recorded when a connection was refused), accepting one fingerprint an administrator has
 * compared, and removing trust. Every accept and removal goes into the audit feed.
 */
export class KnownHostsService {
  constructor(
    private readonly hosts: HostRepository,
    private readonly trust: HostKeyTrust,
    private readonly connector: SshConnector,
    private readonly inventory: InventoryService,
    private readonly audit: AuditLog,
    /** Called when trust in a host's key is withdrawn (the pool closes connections through it). */
    private readonly onRevoked: (lookupName: string) => void = () => {},
  ) {}

  async list(): Promise<KnownHostKey[]> {
    return (await this.hosts.listKeys()).map(toKnownHostKey);
  }

  /** Keys for one host: the console's (trusted and pending) and matching lines of the user's known_hosts files. */
  async forPlan(plan: SshPlan): Promise<KnownHostKey[]> {
    const t = plan.target;
    const rows = (await this.hosts.keysFor([t.lookupName])).map(toKnownHostKey);
    const files = await this.trust.fileEntriesFor(t.lookupName, [...t.config.userKnownHostsFiles, ...t.config.globalKnownHostsFiles]);
    const fromFiles: KnownHostKey[] = files
      .filter((e) => e.marker !== 'revoked')
      .map((e) => ({ id: null, host: t.lookupName, type: e.keyType, sha256: sha256Fingerprint(e.key), status: 'trusted', source: `${e.file}:${e.line}` }));
    return [...fromFiles, ...rows];
  }

  /** Connects and reports the keys the server presents, each with whether it is trusted; unknown ones are recorded as pending. */
  async scan(user: User, body: { host?: unknown; port?: unknown }): Promise<PresentedHostKeys> {
    const plan = await this.planFor(body);
    const lookupName = plan.target.lookupName;
    const keys = await this.connector.scan(plan);
    if (!keys.length) throw new AppError(502, 'ssh_unreachable', `${plan.target.label} presented no host key the console can use`);
    const check = await this.trust.prepare(keyTarget(plan.target.config), [...plan.target.config.userKnownHostsFiles, ...plan.target.config.globalKnownHostsFiles]);
    const fingerprints: PresentedHostKeys['fingerprints'] = [];
    for (const blob of keys) {
      const v = check.verdict(blob);
      // OpenSSH calls any other key for a known host "changed" (right for a connection, which
      // asks for the known type first). Asked for every key type, a key of a type nothing is
      // known for is an extra key to accept, not a sign of interception.
      const extraType = v.status === 'changed' && !v.known.some((e) => e.keyType === keyTypeOfBlob(blob));
      const status = v.status === 'unknown' || extraType ? 'pending' : v.status;
      if (status === 'pending') await this.trust.notePending(lookupName, blob);
      fingerprints.push({ type: keyTypeOfBlob(blob), sha256: sha256Fingerprint(blob), status });
    }
    await this.audit.record({ type: 'admin', action: 'host_key.scan', userId: user.id, metadata: { host: lookupName, fingerprints } });
    return { host: lookupName, fingerprints };
  }

  /**
   * Pins the key with fingerprint `sha256` for the host. Only a key the server has actually
   * presented (recorded as pending) can be accepted; when none is recorded, the server is
   * asked now and must present exactly that fingerprint.
   */
  async accept(user: User, body: { host?: unknown; port?: unknown; type?: unknown; sha256?: unknown }): Promise<KnownHostKey> {
    const sha256 = typeof body.sha256 === 'string' ? body.sha256.trim() : '';
    if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(sha256)) throw validationFailed('sha256 must be a fingerprint like SHA256:… (43 base64 characters)');
    const plan = await this.planFor(body);
    const lookupName = plan.target.lookupName;
    let row = await this.hosts.trust(lookupName, sha256, user.id);
    if (!row) {
      const keys = await this.connector.scan(plan);
      const match = keys.find((k) => sha256Fingerprint(k) === sha256);
      if (!match) {
        throw new AppError(409, 'host_key_mismatch', `${plan.target.label} does not present ${sha256}; it presents ${keys.map(sha256Fingerprint).join(', ') || 'no key'}`, {
          host: lookupName, presented: keys.map((k) => ({ type: keyTypeOfBlob(k), sha256: sha256Fingerprint(k) })),
        });
      }
      await this.trust.notePending(lookupName, match);
      row = await this.hosts.trust(lookupName, sha256, user.id);
      if (!row) throw notFound('Host key');
    }
    if (typeof body.type === 'string' && body.type && body.type !== row.keyType) {
      throw validationFailed(`The key ${sha256} is of type ${row.keyType}, not ${body.type}`);
    }
    await this.audit.record({
      type: 'admin', action: 'host_key.accept', severity: 'warning', userId: user.id,
      metadata: { host: lookupName, type: row.keyType, sha256 },
    });
    return toKnownHostKey(row);
  }

  async remove(user: User, id: string): Promise<void> {
    const row = await this.hosts.deleteKey(id);
    if (!row) throw notFound('Host key');
    if (row.status === 'trusted') this.onRevoked(row.lookupName);
    await this.audit.record({
      type: 'admin', action: row.status === 'trusted' ? 'host_key.revoke' : 'host_key.dismiss', severity: 'warning', userId: user.id,
      metadata: { host: row.lookupName, type: row.keyType, sha256: row.fingerprint },
    });
  }

  /**
   * `host` is an inventory host (id or environment/name), an ssh config alias or host name,
   * or a known-hosts name `[host]:port` as the keys list shows it.
   */
  private async planFor(body: { host?: unknown; port?: unknown }): Promise<SshPlan> {
    let host = typeof body.host === 'string' ? body.host.trim() : '';
    let portIn = body.port;
    const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(host);
    if (bracketed) [, host, portIn] = bracketed;
    if (!host || host.length > 255 || /\s|^-/.test(host)) throw validationFailed('host must be a host id, environment/name, or an ssh alias');
    const port = portIn === undefined || portIn === null || portIn === '' ? undefined : Number(portIn);
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw validationFailed('port must be 1-65535');
    if (UUID.test(host) || host.includes('/')) {
      const row = await this.inventory.host(host);
      return this.inventory.route(port ? { ...row, port } : row);
    }
    return this.inventory.routeAlias(host, port);
  }
}
