import type { AuditLog } from '../platform/audit.ts';
import type { Db } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { ProviderRegistry } from '../providers/provider-registry.ts';
import type { ProviderVm } from '../providers/provider.ts';
import type { VmRepository, VmRow } from './vm.repository.ts';

export interface ReconcilerOptions {
  /** A labelled machine no VM owns is destroyed once it has been seen this long (a create may be in flight). */
  orphanGraceMs: number;
}

/** What one pass found and did, for logs and tests. */
export interface ReconcileReport {
  vanished: string[];
  corrected: string[];
  resolved: string[];
  orphansDestroyed: string[];
  providersSkipped: string[];
}

/**
 * Compares the database with what each provider reports (by the label or name that marks
 * what this console manages), at start and periodically. It never races the workers: a VM
 * with an operation queued, running or dead is left to the queue, and every change is a
 * compare-and-set from the state it was read in.
 *
 * - A VM at rest whose machine vanished goes to `error`, saying so.
 * - A VM at rest whose machine was started or stopped behind the console's back is corrected.
 * - A VM left in a transitional state with nothing queued (its operation was discarded, or
 *   the server died before queueing) is resolved against the machine's real state.
 * - A managed machine that no live VM owns is destroyed after a grace period.
 */
export class VmReconciler {
  /** When each orphan was first seen (provider:vmId), so the grace period spans passes. */
  private readonly orphanSeen = new Map<string, number>();
  private running: Promise<ReconcileReport> | null = null;

  constructor(
    private readonly db: Db,
    private readonly vms: VmRepository,
    private readonly providers: ProviderRegistry,
    private readonly audit: AuditLog,
    private readonly changed: (vmId: string) => void,
    private readonly log: Logger,
    private readonly opts: ReconcilerOptions,
  ) {}

  /** One pass; concurrent callers share the pass in progress. */
  reconcile(): Promise<ReconcileReport> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<ReconcileReport> {
    const report: ReconcileReport = { vanished: [], corrected: [], resolved: [], orphansDestroyed: [], providersSkipped: [] };
    const busy = await this.busyVms();
    const live = await this.vms.live();
    for (const name of this.providers.names()) {
      const info = await this.providers.info(name);
      if (!info.ok) {
        // An engine that does not answer says nothing about its machines: change nothing.
        report.providersSkipped.push(name);
        continue;
      }
      const provider = this.providers.get(name);
      let managed: ProviderVm[];
      try {
        managed = await provider.listManaged();
      } catch (err) {
        this.log.warn({ provider: name, err: (err as Error).message }, 'reconciler could not list machines');
        report.providersSkipped.push(name);
        continue;
      }
      const byVm = new Map(managed.map((m) => [m.vmId, m]));
      const ours = live.filter((v) => v.provider === name);
      for (const vm of ours) {
        if (busy.has(vm.id)) continue;
        await this.check(vm, byVm.get(vm.id) ?? null, report);
      }
      await this.sweepOrphans(name, managed, new Set(ours.map((v) => v.id)), report);
    }
    const total = report.vanished.length + report.corrected.length + report.resolved.length + report.orphansDestroyed.length;
    if (total) this.log.info(report, 'reconciled VMs with their providers');
    return report;
  }

  private async check(vm: VmRow, machine: ProviderVm | null, report: ReconcileReport): Promise<void> {
    const state = machine?.state ?? 'missing';
    const at = { providerId: machine?.providerId ?? vm.providerId, host: machine?.host ?? null, sshPort: machine?.sshPort ?? null };
    if (vm.state === 'running' || vm.state === 'stopped') {
      if (state === 'missing' || state === 'error') {
        const why = state === 'missing'
          ? `the machine was removed outside the console (no ${vm.provider} machine carries this VM's label)`
          : `the ${vm.provider} machine failed: ${machine?.detail ?? 'unknown reason'}`;
        if (await this.vms.transition(vm.id, [vm.state], 'error', { statusDetail: why, host: null, sshPort: null })) {
          report.vanished.push(vm.id);
          await this.audit.record({ type: 'vm', action: 'vm.vanished', severity: 'warning', userId: vm.ownerId, metadata: { vmId: vm.id, name: vm.name, reason: why } });
          this.changed(vm.id);
        }
      } else if (vm.state === 'running' && state === 'stopped') {
        if (await this.vms.transition(vm.id, ['running'], 'stopped', { host: null, sshPort: null, statusDetail: 'stopped outside the console' })) {
          report.corrected.push(vm.id);
          this.changed(vm.id);
        }
      } else if (vm.state === 'stopped' && state === 'running') {
        if (await this.vms.transition(vm.id, ['stopped'], 'running', { ...at, statusDetail: 'started outside the console' })) {
          report.corrected.push(vm.id);
          this.changed(vm.id);
        }
      }
      return;
    }
    if (vm.state === 'error') return;
    // Transitional with nothing queued: settle it on what the machine really is.
    const to = state === 'running' ? 'running' : state === 'stopped' ? 'stopped' : vm.state === 'destroying' ? 'destroyed' : 'error';
    const detail = to === 'error' ? `left ${vm.state} with no operation to finish it, and the machine is ${state}` : `settled from ${vm.state}: the machine is ${state}`;
    if (await this.vms.transition(vm.id, [vm.state], to, { ...(to === 'running' ? at : { host: null, sshPort: null }), statusDetail: detail })) {
      report.resolved.push(vm.id);
      await this.audit.record({ type: 'vm', action: 'vm.reconciled', severity: to === 'error' ? 'warning' : 'info', userId: vm.ownerId, metadata: { vmId: vm.id, from: vm.state, to } });
      this.changed(vm.id);
    }
  }

  private async sweepOrphans(provider: string, managed: ProviderVm[], owned: Set<string>, report: ReconcileReport): Promise<void> {
    const now = Date.now();
    const seenNow = new Set<string>();
    for (const m of managed) {
      if (owned.has(m.vmId)) continue;
      const key = `${provider}:${m.vmId}`;
      seenNow.add(key);
      const first = this.orphanSeen.get(key) ?? now;
      this.orphanSeen.set(key, first);
      if (now - first < this.opts.orphanGraceMs) continue;
      try {
        await this.providers.get(provider).destroy({ vmId: m.vmId, providerId: m.providerId }, () => {}, AbortSignal.timeout(120_000));
        this.orphanSeen.delete(key);
        report.orphansDestroyed.push(m.vmId);
        await this.audit.record({ type: 'system', action: 'vm.orphan_destroyed', severity: 'warning', metadata: { provider, vmId: m.vmId, providerId: m.providerId } });
      } catch (err) {
        this.log.warn({ provider, vmId: m.vmId, err: (err as Error).message }, 'could not destroy an orphan machine');
      }
    }
    for (const key of this.orphanSeen.keys()) if (key.startsWith(`${provider}:`) && !seenNow.has(key)) this.orphanSeen.delete(key);
  }

  /** VMs with an operation the queue still owns (queued, running or waiting for an administrator). */
  private async busyVms(): Promise<Set<string>> {
    const { rows } = await this.db.query(`SELECT DISTINCT vm_id AS id FROM vm_operations WHERE status IN ('queued', 'running', 'dead')`);
    return new Set(rows.map((r) => r.id));
  }
}
