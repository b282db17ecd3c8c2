import type { User } from '../../src/lib/shared/auth.ts';
import type { Job } from '../../src/lib/shared/jobs.ts';
import type { JobRepository } from '../jobs/job.repository.ts';
import type { JobRunner } from '../jobs/job-runner.ts';
import type { AuditLog } from '../platform/audit.ts';
import { AppError, validationFailed } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import { commandRun } from '../ssh/log-presets.ts';
import { runRemote, type ReconnectPolicy } from '../ssh/ssh-exec.source.ts';
import type { SshPool } from '../ssh/ssh-pool.ts';
import { SshShellSource } from '../ssh/ssh-shell.source.ts';
import type { RemoteShellTarget } from '../terminals/terminal.service.ts';
import type { VmKeyVault } from './vm-keys.ts';
import { vmPlan } from './vm-ssh.ts';
import type { VmRepository, VmRow } from './vm.repository.ts';
import type { VmService } from './vm.service.ts';

const MAX_COMMAND = 64 * 1024;

/**
 * Using a VM once it runs: commands as streamed jobs, shells for the terminals feature, and
 * the VM's private key for its owner. Every connection logs in with the VM's own key and
 * trusts only the host keys its provider reported. Each use restarts the VM's idle clock,
 * and an ephemeral VM is destroyed once its first command has finished.
 */
export class VmAccessService {
  constructor(
    private readonly service: VmService,
    private readonly vms: VmRepository,
    private readonly vault: VmKeyVault,
    private readonly pool: SshPool,
    private readonly runner: JobRunner,
    private readonly jobRepo: JobRepository,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly reconnect: ReconnectPolicy,
  ) {}

  /** `POST /api/vms/:id/exec`: runs `command` in the VM as a streamed job (never re-run after a dropped connection). */
  async exec(user: User, vmId: string, raw: unknown): Promise<Job> {
    const command = (raw as { command?: unknown } | null)?.command;
    if (typeof command !== 'string' || !command.trim()) throw validationFailed('command must be a non-empty string');
    if (command.length > MAX_COMMAND || command.includes('\0')) throw validationFailed('command is too long or holds a NUL byte');
    const vm = await this.running(user, vmId);
    const plan = vmPlan(vm, await this.privateKey(vm));
    const job = await this.jobRepo.create({
      type: 'ssh', command, spec: { body: { type: 'ssh', vm: vm.id, command }, vm: { id: vm.id, name: vm.name } },
      status: 'queued', userId: user.id, vmId: vm.id,
    });
    await this.vms.touch(vm.id);
    await this.audit.record({ type: 'job', action: 'vm.exec', userId: user.id, metadata: { jobId: job.id, vmId: vm.id, command } });
    const started = await this.runner.run(job, (sink) => {
      sink.system(`$ ${command}   (in VM ${vm.name} as ${vm.sshUser})`);
      const run = runRemote({ pool: this.pool, plan, sink, start: () => commandRun(command), resumable: false, reconnect: this.reconnect });
      return { finished: run.finished, cancel: run.cancel };
    });
    if (vm.ephemeral) void this.runner.finished(job.id)?.then(() => this.destroyEphemeral(vm));
    return started;
  }

  /** For the terminals feature: a shell in the VM, for its owner or an administrator. */
  readonly shell = async (user: User, vmId: string): Promise<RemoteShellTarget> => {
    const vm = await this.running(user, vmId);
    const plan = vmPlan(vm, await this.privateKey(vm));
    await this.vms.touch(vm.id);
    const label = `${vm.sshUser}@${vm.name}`;
    return {
      vmId: vm.id,
      label,
      command: `ssh ${label}`,
      open: (sink, cols, rows) => SshShellSource.openOn(this.pool, plan, { sink, cols, rows }),
    };
  };

  /** The VM's private key, for `ssh -i`; its owner or an administrator, audited. */
  async downloadKey(user: User, vmId: string): Promise<{ name: string; key: string }> {
    const vm = await this.service.get(user, vmId);
    const key = await this.privateKey(vm);
    await this.audit.record({ type: 'vm', action: 'vm.key_download', userId: user.id, metadata: { vmId: vm.id } });
    return { name: vm.name, key };
  }

  /** Closes pooled connections to a VM (it stops, restarts or goes away). */
  disconnect(vmId: string): void {
    this.pool.closeWhere((plan) => plan.target.pinned !== undefined && plan.key.includes(`"${vmId}"`));
  }

  private async running(user: User, vmId: string): Promise<VmRow> {
    const vm = await this.service.get(user, vmId);
    if (vm.state !== 'running' || !vm.host || !vm.sshPort) {
      throw new AppError(409, 'invalid_transition', `VM ${vm.name} is ${vm.state}; start it first`, { state: vm.state });
    }
    return vm;
  }

  private async privateKey(vm: VmRow): Promise<string> {
    const sealed = await this.vms.sealedKey(vm.id);
    if (!sealed) throw new AppError(409, 'conflict', `VM ${vm.name} has no key yet (it has not been provisioned)`);
    return this.vault.open(vm.id, sealed);
  }

  private async destroyEphemeral(vm: VmRow): Promise<void> {
    try {
      await this.service.request({ system: 'ephemeral VM: its command finished' }, vm.id, 'destroy');
    } catch (err) {
      this.log.warn({ vmId: vm.id, err: (err as Error).message }, 'could not destroy an ephemeral VM');
    }
  }
}
