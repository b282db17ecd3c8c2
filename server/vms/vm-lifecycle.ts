import type { AuditLog } from '../platform/audit.ts';
import type { Db } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { VmService } from './vm.service.ts';
import type { VmRepository, VmRow } from './vm.repository.ts';

export interface LifecycleOptions {
  /** How long before an auto-stop or expiry its warning is sent. */
  warningMs: number;
}

/** What one sweep did, for logs and tests. */
export interface SweepReport {
  warnedIdle: string[];
  stopped: string[];
  warnedExpiry: string[];
  expired: string[];
}

/**
 * Auto-stop after inactivity and expiry after a maximum lifetime, each preceded by a warning
 * event. Activity is SSH use: an exec job or a shell in the VM counts while it runs (each
 * sweep restarts the idle clock of VMs with one open). The sweeper only asks for actions
 * through the service, like a user would; the queue carries them out.
 */
export class VmLifecycle {
  constructor(
    private readonly db: Db,
    private readonly vms: VmRepository,
    private readonly service: VmService,
    private readonly audit: AuditLog,
    private readonly changed: (vmId: string) => void,
    private readonly log: Logger,
    private readonly opts: LifecycleOptions,
  ) {}

  async sweep(): Promise<SweepReport> {
    const report: SweepReport = { warnedIdle: [], stopped: [], warnedExpiry: [], expired: [] };
    await this.touchInUse();
    const now = Date.now();
    for (const vm of await this.vms.live()) {
      if (vm.expiresAt && !['destroying', 'destroyed'].includes(vm.state)) {
        const at = new Date(vm.expiresAt).getTime();
        if (at <= now) {
          if (await this.ask(vm, 'destroy', `it reached its maximum lifetime (${vm.expiresAt})`, 'vm.expired')) report.expired.push(vm.id);
          continue;
        }
        if (at - now <= this.opts.warningMs && !vm.expiryWarnedAt) {
          await this.warn(vm, 'expiry', `VM ${vm.name} will be destroyed at ${vm.expiresAt} (maximum lifetime of its tier)`, vm.expiresAt);
          report.warnedExpiry.push(vm.id);
        }
      }
      if (vm.state === 'running' && vm.autoStopMinutes && vm.lastActivityAt) {
        const at = new Date(vm.lastActivityAt).getTime() + vm.autoStopMinutes * 60_000;
        if (at <= now) {
          if (await this.ask(vm, 'stop', `no SSH use for ${vm.autoStopMinutes} min`, 'vm.auto_stop')) report.stopped.push(vm.id);
        } else if (at - now <= this.opts.warningMs && !vm.idleWarnedAt) {
          const when = new Date(at).toISOString();
          await this.warn(vm, 'idle', `VM ${vm.name} will be stopped at ${when} unless it is used (no SSH use for ${vm.autoStopMinutes} min)`, when);
          report.warnedIdle.push(vm.id);
        }
      }
    }
    return report;
  }

  /** VMs with an exec job or a shell running count as used right now. */
  private async touchInUse(): Promise<void> {
    const { rows } = await this.db.query(
      `SELECT DISTINCT vm_id AS id FROM jobs WHERE vm_id IS NOT NULL AND type IN ('ssh', 'terminal') AND status = 'running'`,
    );
    for (const r of rows) await this.vms.touch(r.id);
  }

  private async warn(vm: VmRow, which: 'idle' | 'expiry', message: string, at: string): Promise<void> {
    await this.vms.markWarned(vm.id, which);
    await this.audit.record({
      type: 'vm', action: which === 'idle' ? 'vm.auto_stop_warning' : 'vm.expiry_warning', severity: 'warning', userId: vm.ownerId,
      metadata: { vmId: vm.id, name: vm.name, at, message },
    });
    this.changed(vm.id);
  }

  private async ask(vm: VmRow, action: 'stop' | 'destroy', reason: string, event: string): Promise<boolean> {
    try {
      await this.service.request({ system: reason }, vm.id, action);
      await this.audit.record({ type: 'vm', action: event, severity: 'warning', userId: vm.ownerId, metadata: { vmId: vm.id, name: vm.name, reason } });
      this.changed(vm.id);
      return true;
    } catch (err) {
      // Already stopping or being destroyed (queued by its owner): nothing to add.
      this.log.debug({ vmId: vm.id, action, err: (err as Error).message }, 'lifecycle action not queued');
      return false;
    }
  }
}
