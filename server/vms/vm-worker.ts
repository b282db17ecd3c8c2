import type { VmAction } from '../../src/lib/shared/vms.ts';
import type { JobRunner } from '../jobs/job-runner.ts';
import type { AuditLog } from '../platform/audit.ts';
import type { Logger } from '../platform/logger.ts';
import type { ProviderRegistry } from '../providers/provider-registry.ts';
import type { ProviderVm, VmProvider } from '../providers/provider.ts';
import { ACTION_RULES } from '../../src/lib/shared/vm-state.ts';
import { generateVmKeyPair, type VmKeyVault } from './vm-keys.ts';
import type { VmOpAttempt, VmOpHandlers, VmOpPayload } from './vm-queue.ts';
import type { VmRepository, VmRow } from './vm.repository.ts';

/** What happens around an operation that is not the worker's business (ledger, SSH pool, live views). */
export interface VmWorkerHooks {
  /** The VM row changed: push it to the pages that show it. */
  changed(vmId: string): void;
  /** Stop using connections to the VM (it is stopping, restarting or going away). */
  disconnect(vmId: string): void;
  /** An operation ended for good; the ledger settles a create's hold here. */
  settled?(vm: VmRow, action: VmAction, outcome: 'succeeded' | 'failed'): Promise<void>;
}

export interface VmWorkerOptions {
  /** Login created in new VMs, per provider. */
  sshUser(provider: string): string;
  /** First retry delay per action kind (doubling), for the log line that says when the next attempt comes. */
  retryDelaySeconds(action: VmAction): number;
}

/** A failure that another attempt cannot fix (the VM is no longer in a state the action applies to). */
class NotApplicable extends Error {}

/**
 * Carries out VM operations delivered by the queue. Each delivery is one attempt, logged into
 * the operation's job (one job across all attempts: viewers see every retry in one log).
 * Every state change is a compare-and-set; a redelivered attempt finds the VM already in the
 * action's in-progress state and carries on, and the providers are idempotent by VM id, so a
 * create delivered twice makes one machine. When the last attempt fails the VM goes to the
 * action's failure state with the reason and the operation is dead: it stays in the queue,
 * holding the VM's later actions, until an administrator retries or discards it (or the owner
 * destroys the VM).
 */
export class VmWorker {
  constructor(
    private readonly vms: VmRepository,
    private readonly providers: ProviderRegistry,
    private readonly runner: JobRunner,
    private readonly vault: VmKeyVault,
    private readonly audit: AuditLog,
    private readonly hooks: VmWorkerHooks,
    private readonly log: Logger,
    private readonly opts: VmWorkerOptions,
  ) {}

  readonly handlers: VmOpHandlers = {
    create: (p, s, a) => this.handle(p, s, a),
    start: (p, s, a) => this.handle(p, s, a),
    stop: (p, s, a) => this.handle(p, s, a),
    restart: (p, s, a) => this.handle(p, s, a),
    destroy: (p, s, a) => this.handle(p, s, a),
  };

  private async handle(payload: VmOpPayload, signal: AbortSignal, attempt: VmOpAttempt): Promise<void> {
    const op = await this.vms.getOperation(payload.operationId);
    // Finished or discarded already: a late redelivery has nothing left to do.
    if (!op || (op.status !== 'queued' && op.status !== 'running')) return;
    await this.vms.startOperation(op.id);
    const { action, vmId } = payload;
    const rule = ACTION_RULES[action];
    const journal = op.jobId ? await this.runner.openJournal(op.jobId) : null;
    const sink = journal?.sink;
    const say = (line: string) => sink?.system(line);
    say(attempt.limit > 1 ? `${capitalize(action)}: attempt ${attempt.number} of ${attempt.limit}` : capitalize(action));

    try {
      // The action's in-progress state is accepted too: that is a redelivered attempt resuming.
      const vm = await this.vms.transition(vmId, [...rule.executeFrom, rule.during], rule.during, { statusDetail: null });
      if (!vm) {
        const now = await this.vms.get(vmId);
        throw new NotApplicable(`cannot ${action} a VM that is ${now?.state ?? 'gone'}`);
      }
      this.hooks.changed(vmId);
      const provider = this.providers.get(vm.provider);
      const out = (line: string) => sink?.write('stdout', Buffer.from(`${line}\n`));
      // The queue aborts an attempt past its timeout and may hand the operation to another
      // attempt: stop waiting here at once, whatever the provider call is doing.
      await untilAborted(this.carryOut(action, vm, provider, out, signal), signal);
      const final = await this.vms.get(vmId);
      // Settled before the operation ends: whoever sees it finished sees the charge too.
      if (final) await this.settle(final, action, 'succeeded');
      await this.vms.finishOperation(op.id, 'succeeded', null);
      say(`${capitalize(action)} done: the VM is ${final?.state ?? 'gone'}`);
      if (op.jobId && sink) await this.runner.closeJournal(op.jobId, sink, { status: 'success', exitCode: 0 });
      this.hooks.changed(vmId);
    } catch (err) {
      const reason = describe(err);
      if (err instanceof NotApplicable) {
        say(`Not done: ${reason}`);
        await this.vms.finishOperation(op.id, 'failed', reason);
        if (op.jobId && sink) await this.runner.closeJournal(op.jobId, sink, { status: 'failed', exitCode: null });
        this.hooks.changed(vmId);
        return; // nothing to retry: the queue moves on to the VM's next action
      }
      this.log.warn({ vmId, action, attempt: attempt.number, err: reason }, 'VM operation attempt failed');
      if (!attempt.final) {
        const wait = this.opts.retryDelaySeconds(action) * 2 ** (attempt.number - 1);
        say(`Attempt ${attempt.number} failed: ${reason}. Next attempt in about ${wait} s.`);
        await this.vms.transition(vmId, [rule.during], rule.during, { statusDetail: `attempt ${attempt.number} of ${attempt.limit} failed: ${reason}; retrying` });
        if (op.jobId && sink) await this.runner.closeJournal(op.jobId, sink);
        this.hooks.changed(vmId);
        throw err;
      }
      say(`Failed after ${attempt.number} attempt${attempt.number === 1 ? '' : 's'}: ${reason}`);
      say('The VM\'s later actions wait until an administrator retries or discards this operation (destroying the VM discards it).');
      const failed = await this.vms.transition(vmId, [rule.during], rule.failed, { statusDetail: `${action} failed: ${reason}` });
      if (failed) await this.settle(failed, action, 'failed');
      await this.vms.finishOperation(op.id, 'dead', reason);
      if (op.jobId && sink) await this.runner.closeJournal(op.jobId, sink, { status: 'failed', exitCode: null });
      await this.audit.record({
        type: 'vm', action: `vm.${action}.failed`, severity: 'warning', userId: op.requestedBy,
        metadata: { vmId, operationId: op.id, jobId: op.jobId, attempts: attempt.number, error: reason },
      });
      this.hooks.changed(vmId);
      throw err;
    }
  }

  /** The ledger's part; its failure is logged (the auditor and the hold's expiry catch what it left), never the VM's. */
  private async settle(vm: VmRow, action: VmAction, outcome: 'succeeded' | 'failed'): Promise<void> {
    try {
      await this.hooks.settled?.(vm, action, outcome);
    } catch (err) {
      this.log.error({ vmId: vm.id, action, outcome, err: (err as Error).message }, 'could not settle the VM operation in the ledger');
    }
  }

  private async carryOut(action: VmAction, vm: VmRow, provider: VmProvider, out: (line: string) => void, signal: AbortSignal): Promise<void> {
    const ref = { vmId: vm.id, providerId: vm.providerId };
    switch (action) {
      case 'create': {
        const publicKey = await this.ensureKeyPair(vm);
        out(`Creating ${vm.name} on ${vm.provider}: ${vm.vcpus} vCPU, ${vm.memoryMb} MB memory, ${vm.diskGb} GB disk${vm.image ? `, image ${vm.image}` : ''}`);
        const made = await provider.create({
          vmId: vm.id, name: vm.name, vcpus: vm.vcpus, memoryMb: vm.memoryMb, diskGb: vm.diskGb,
          image: vm.image ?? undefined, sshPublicKey: publicKey, sshUser: vm.sshUser ?? this.opts.sshUser(vm.provider),
        }, out, signal);
        for (const limit of made.notEnforced ?? []) out(`Note: ${limit}`);
        await this.arrive(vm, made, 'running', out);
        return;
      }
      case 'start': {
        const started = await provider.start(ref, out, signal);
        await this.arrive(vm, started, 'running', out);
        return;
      }
      case 'stop': {
        this.hooks.disconnect(vm.id);
        await provider.stop(ref, out, signal);
        await this.move(vm, 'stopping', 'stopped', { host: null, sshPort: null });
        if (this.providers.billedWhenStopped(vm.provider)) out(`${vm.provider} still bills a stopped machine; destroy it to stop the charge.`);
        return;
      }
      case 'restart': {
        this.hooks.disconnect(vm.id);
        await provider.stop(ref, out, signal);
        await this.move(vm, 'stopping', 'starting', { host: null, sshPort: null });
        this.hooks.changed(vm.id);
        const started = await provider.start(ref, out, signal);
        await this.arrive({ ...vm, state: 'starting' }, started, 'running', out);
        return;
      }
      case 'destroy': {
        this.hooks.disconnect(vm.id);
        await provider.destroy(ref, out, signal);
        await this.move(vm, 'destroying', 'destroyed', { host: null, sshPort: null });
        return;
      }
    }
  }

  /** Records where a machine that now runs can be reached (the port can change on every start) and its host keys. */
  private async arrive(vm: VmRow, m: ProviderVm, to: 'running', out: (line: string) => void): Promise<void> {
    if (m.state !== 'running') throw new Error(`the provider reports the machine as ${m.state}${m.detail ? `: ${m.detail}` : ''}`);
    await this.move(vm, vm.state, to, {
      providerId: m.providerId,
      host: m.host,
      sshPort: m.sshPort,
      ...(m.hostKeys?.length ? { hostKeys: m.hostKeys } : {}),
      ...(m.notEnforced ? { notEnforced: m.notEnforced } : {}),
    });
    out(`SSH: ${vm.sshUser ?? this.opts.sshUser(vm.provider)}@${m.host} port ${m.sshPort}${m.hostKeys?.length ? ` (host keys pinned: ${m.hostKeys.length})` : ''}`);
  }

  private async move(vm: VmRow, from: VmRow['state'], to: VmRow['state'], patch: Parameters<VmRepository['transition']>[3]): Promise<void> {
    const moved = await this.vms.transition(vm.id, [from], to, patch);
    // Someone else moved it meanwhile (a forced destroy): the provider's work stands, the record wins.
    if (!moved) throw new NotApplicable(`the VM left ${from} while this ran (now ${(await this.vms.get(vm.id))?.state ?? 'gone'})`);
  }

  /** The VM's own login key: made once, kept across retries (the machine may already hold the first one). */
  private async ensureKeyPair(vm: VmRow): Promise<string> {
    if (!vm.hasKey || !vm.sshPublicKey) {
      const pair = generateVmKeyPair(vm.name);
      await this.vms.setKeyPair(vm.id, pair.publicKey, this.vault.seal(vm.id, pair.privateKey));
    }
    const stored = await this.vms.get(vm.id);
    if (!stored?.sshPublicKey) throw new Error('the VM key pair could not be stored');
    return stored.sshPublicKey;
  }
}

/** `work`, or a rejection as soon as `signal` aborts (the queue's timeout), naming why. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('the attempt timed out'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('the attempt timed out and was stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && /^[a-z_]+$/.test(code) ? `${err.message} [${code}]` : err.message;
  }
  return String(err);
}
