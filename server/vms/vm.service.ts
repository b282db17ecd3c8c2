import type { User } from '../../src/lib/shared/auth.ts';
import type { VmAction } from '../../src/lib/shared/vms.ts';
import type { JobRepository } from '../jobs/job.repository.ts';
import type { AuditLog } from '../platform/audit.ts';
import { withTransaction, type Db, type Queryable } from '../platform/db.ts';
import { AppError, notFound } from '../platform/errors.ts';
import { checkRequest } from './vm-state.ts';
import type { VmOperationRow, VmRepository, VmRow } from './vm.repository.ts';
import type { VmOpPayload } from './vm-queue.ts';

/** What the service needs of the queue: enqueue inside the caller's transaction. */
export interface VmEnqueuer {
  enqueue(q: Queryable, payload: VmOpPayload): Promise<string | null>;
}

export const invalidTransition = (reason: string, vm: VmRow) =>
  new AppError(409, 'invalid_transition', `Cannot do that now: ${reason}`, { state: vm.state });

/**
 * Asking for VM actions. One short transaction per request: lock the VM's row (requests for
 * one VM are judged one at a time), judge the action against the state the VM will be in
 * once everything already queued has run, then insert the operation row, the job that will
 * log it, and the queue job together — all or nothing. The workers carry operations out;
 * nothing here talks to a provider.
 */
export class VmService {
  constructor(
    private readonly db: Db,
    private readonly vms: VmRepository,
    private readonly jobs: JobRepository,
    private readonly queue: VmEnqueuer,
    private readonly audit: AuditLog,
  ) {}

  /** The VM if `user` may see it (its owner or an admin); 404 otherwise so ids do not leak. */
  async get(user: User, id: string): Promise<VmRow> {
    const vm = await this.vms.get(id);
    if (!vm || (user.role !== 'admin' && vm.ownerId !== user.id)) throw notFound('VM');
    return vm;
  }

  /** Asks for `action` on a VM: 202-style result with the operation's job, or 409 `invalid_transition`. */
  async request(user: User, vmId: string, action: Exclude<VmAction, 'create'>): Promise<{ vm: VmRow; operation: VmOperationRow; jobId: string }> {
    await this.get(user, vmId);
    const result = await withTransaction(this.db, async (c) => {
      const vm = await this.vms.lock(vmId, c);
      if (!vm) throw notFound('VM');
      const open = (await this.vms.openOperations(vmId, c)).filter((o) => o.status !== 'dead');
      const inFlight = open.find((o) => o.status === 'running')?.action ?? null;
      const queued = open.filter((o) => o.status === 'queued').map((o) => o.action);
      const verdict = checkRequest(action, vm.state, inFlight, queued);
      if (!verdict.ok) throw invalidTransition(verdict.reason, vm);
      const job = await this.jobs.create({
        type: 'vm',
        command: `${action} ${vm.name}`,
        spec: { vmId, action },
        status: 'queued',
        userId: user.id,
        vmId,
      }, c);
      const operation = await this.vms.insertOperation(vmId, action, user.id, job.id, c);
      await this.queue.enqueue(c, { vmId, operationId: operation.id, action });
      return { vm, operation, jobId: job.id };
    });
    await this.audit.record({
      type: 'vm', action: `vm.${action}`, userId: user.id,
      metadata: { vmId, operationId: result.operation.id, jobId: result.jobId },
    });
    return result;
  }
}
