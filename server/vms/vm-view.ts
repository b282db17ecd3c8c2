import type { Vm, VmAction, VmOperation } from '../../src/lib/shared/vms.ts';
import { sha256Fingerprint } from '../inventory/known-hosts.ts';
import type { Db } from '../platform/db.ts';
import { vmStatus } from '../../src/lib/shared/vm-state.ts';
import { sshCommandFor } from './vm-ssh.ts';
import type { VmOperationRow, VmRow } from './vm.repository.ts';

/** Open operations per VM: the one running and those queued behind it, in order. */
export interface OpenOps {
  inFlight: VmAction | null;
  queued: VmAction[];
}

const NONE: OpenOps = { inFlight: null, queued: [] };

/**
 * Turns VM rows into what the API returns: the badge (state plus what runs and waits),
 * the SSH command, fingerprints of the pinned host keys, and the times lifecycle rules
 * will act at. Reads the open operations of all listed VMs in one query.
 */
export class VmViews {
  constructor(
    private readonly db: Db,
    private readonly billedWhenStopped: (provider: string) => boolean,
  ) {}

  async one(row: VmRow, ownerName?: string | null): Promise<Vm> {
    const [view] = await this.many([{ ...row, ownerName: ownerName ?? null }]);
    return view;
  }

  async many(rows: Array<VmRow & { ownerName?: string | null }>): Promise<Vm[]> {
    if (!rows.length) return [];
    const open = await this.openOps(rows.map((r) => r.id));
    const names = await this.ownerNames(rows.filter((r) => r.ownerName === undefined || r.ownerName === null).map((r) => r.ownerId));
    return rows.map((r) => toVm(r, open.get(r.id) ?? NONE, r.ownerName ?? (r.ownerId ? names.get(r.ownerId) ?? null : null), this.billedWhenStopped(r.provider)));
  }

  async operations(rows: VmOperationRow[]): Promise<VmOperation[]> {
    if (!rows.length) return [];
    const { rows: info } = await this.db.query(
      `SELECT v.id, v.name, v.state, o.username AS owner FROM vms v LEFT JOIN users o ON o.id = v.owner_id WHERE v.id = ANY($1::uuid[])`,
      [[...new Set(rows.map((r) => r.vmId))]],
    );
    const vms = new Map(info.map((r) => [r.id, r]));
    const users = await this.ownerNames(rows.map((r) => r.requestedBy));
    return rows.map((r) => ({
      id: r.id,
      vmId: r.vmId,
      vmName: vms.get(r.vmId)?.name ?? '',
      vmState: vms.get(r.vmId)?.state ?? 'destroyed',
      ownerName: vms.get(r.vmId)?.owner ?? null,
      action: r.action,
      status: r.status,
      jobId: r.jobId,
      requestedBy: r.requestedBy,
      requestedByName: r.requestedBy ? users.get(r.requestedBy) ?? null : null,
      error: r.error,
      attempts: r.attempts,
      createdAt: r.createdAt,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
    }));
  }

  private async openOps(vmIds: string[]): Promise<Map<string, OpenOps>> {
    const { rows } = await this.db.query(
      `SELECT vm_id AS "vmId", action, status FROM vm_operations
       WHERE vm_id = ANY($1::uuid[]) AND status IN ('queued', 'running') ORDER BY created_at, id`,
      [vmIds],
    );
    const out = new Map<string, OpenOps>();
    for (const r of rows) {
      const o = out.get(r.vmId) ?? { inFlight: null, queued: [] };
      if (r.status === 'running') o.inFlight = r.action;
      else o.queued.push(r.action);
      out.set(r.vmId, o);
    }
    return out;
  }

  private async ownerNames(ids: Array<string | null>): Promise<Map<string, string>> {
    const wanted = [...new Set(ids.filter((x): x is string => !!x))];
    if (!wanted.length) return new Map();
    const { rows } = await this.db.query(`SELECT id, username FROM users WHERE id = ANY($1::uuid[])`, [wanted]);
    return new Map(rows.map((r) => [r.id, r.username]));
  }
}

export function toVm(r: VmRow, open: OpenOps, ownerName: string | null, billedWhenStopped: boolean): Vm {
  const running = r.state === 'running';
  const liveSeconds = r.runningSince ? Math.max(0, (Date.now() - new Date(r.runningSince).getTime()) / 1000) : 0;
  const autoStopAt = running && r.autoStopMinutes && r.lastActivityAt
    ? new Date(new Date(r.lastActivityAt).getTime() + r.autoStopMinutes * 60_000).toISOString()
    : null;
  return {
    id: r.id,
    name: r.name,
    source: 'provisioned',
    provider: r.provider,
    ownerId: r.ownerId,
    ownerName,
    state: r.state,
    status: vmStatus(r.state, open.inFlight, open.queued),
    vcpus: r.vcpus,
    memoryMb: r.memoryMb,
    diskGb: r.diskGb,
    image: r.image,
    host: running ? r.host : null,
    sshPort: running ? r.sshPort : null,
    user: r.sshUser,
    sshCommand: running ? sshCommandFor(r) : null,
    hostKeyFingerprints: r.hostKeys.map(fingerprintOfLine).filter((x): x is string => !!x),
    statusDetail: r.statusDetail,
    notEnforced: r.notEnforced,
    ephemeral: r.ephemeral,
    metadata: r.metadata,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    totalRuntimeMinutes: Math.floor((r.runtimeSeconds + liveSeconds) / 60),
    runningSince: r.runningSince,
    lastActivityAt: r.lastActivityAt,
    expiresAt: r.state === 'destroyed' ? null : r.expiresAt,
    autoStopAt,
    billedWhenStopped,
  };
}

/** `SHA256:…` of an OpenSSH public key line, as `ssh-keygen -lf` prints it. */
function fingerprintOfLine(line: string): string | null {
  const b64 = line.trim().split(/\s+/)[1];
  return b64 ? sha256Fingerprint(Buffer.from(b64, 'base64')) : null;
}
