import type pg from 'pg';
import type { User } from '../../src/lib/shared/auth.ts';
import type { CreateVmBody, VmAction } from '../../src/lib/shared/vms.ts';
import type { JobRepository } from '../jobs/job.repository.ts';
import type { AuditLog } from '../platform/audit.ts';
import { withTransaction, type Db, type Queryable } from '../platform/db.ts';
import { AppError, conflict, forbidden, notFound, validationFailed } from '../platform/errors.ts';
import { ACTION_RULES, checkRequest } from '../../src/lib/shared/vm-state.ts';
import { IdempotencyKeys, type IdempotencyRequest, type StoredAnswer } from './idempotency-keys.ts';
import type { VmAdmission } from './vm-admission.ts';
import type { VmOperationRow, VmRepository, VmRow } from './vm.repository.ts';
import type { VmOpPayload } from './vm-queue.ts';

/** What the service needs of the queue: enqueue inside the caller's transaction, and admin retry/discard. */
export interface VmEnqueuer {
  enqueue(q: Queryable, payload: VmOpPayload): Promise<string | null>;
  retry?(queueJobId: string): Promise<void>;
  discard?(queueJobId: string, operationId: string): Promise<void>;
}

/** Who asked: a user, or the console itself (auto-stop, expiry, ephemeral VMs) with its reason. */
export type VmActor = { user: User } | { system: string };

/** Lifecycle rules a new VM is admitted with (per tier). */
export interface VmLifecycleRules {
  autoStopMinutes: number | null;
  lifetimeHours: number | null;
}

export interface VmServiceOptions {
  /** Where a create goes when it names no provider. */
  defaultProvider: string;
  /** Providers this server has; an unknown one is a 400. */
  hasProvider(name: string): boolean;
  /** A create is refused before its transaction when its provider cannot be used now. */
  assertUsable(name: string): Promise<void>;
  /** The login made in VMs of a provider. */
  sshUser(provider: string): string;
  lifecycleFor(user: User): VmLifecycleRules;
  limits: { vcpus: [number, number]; memoryMb: [number, number]; diskGb: [number, number] };
  /** A forced destroy removed the record (the ledger gives back a hold still open). */
  onForceDestroyed?(vm: VmRow): Promise<void>;
}

export const invalidTransition = (reason: string, vm: VmRow) =>
  new AppError(409, 'invalid_transition', `Cannot do that now: ${reason}`, { state: vm.state });

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/i;

/**
 * Asking for VM actions. One short transaction per request: lock the VM's row (requests for
 * one VM are judged one at a time), judge the action against the state the VM will be in
 * once everything already queued has run, then insert the operation row, the job that will
 * log it, and the queue job together — all or nothing. Creates pass admission in the same
 * transaction. The workers carry operations out; nothing here talks to a provider.
 */
export class VmService {
  constructor(
    private readonly db: Db,
    private readonly vms: VmRepository,
    private readonly jobs: JobRepository,
    private readonly queue: VmEnqueuer,
    private readonly audit: AuditLog,
    private readonly admission: VmAdmission,
    private readonly opts: VmServiceOptions,
    private readonly keys = new IdempotencyKeys(),
  ) {}

  /** The VM if `user` may see it (its owner or an admin); 404 otherwise so ids do not leak. */
  async get(user: User, id: string): Promise<VmRow> {
    const vm = await this.vms.get(id);
    if (!vm || (user.role !== 'admin' && vm.ownerId !== user.id)) throw notFound('VM');
    return vm;
  }

  /**
   * Admits and queues a new VM; answers 202 with `respond(vm, jobId)`. With an Idempotency-Key
   * the key is claimed in the same transaction and the answer stored with it, so a retry gets
   * the first answer (a refusal too: it is stored after its transaction rolled back).
   */
  async create(user: User, raw: unknown, respond: (vm: VmRow, jobId: string) => unknown, idem?: IdempotencyRequest | null): Promise<StoredAnswer> {
    const body = this.parseCreate(user, raw);
    const provider = body.provider ?? this.opts.defaultProvider;
    await this.opts.assertUsable(provider);
    const rules = this.opts.lifecycleFor(user);
    const req = { user, provider, vcpus: body.vcpus, memoryMb: body.memoryMb, diskGb: body.diskGb };
    await this.admission.prepare?.(req);
    let result: { answer: StoredAnswer; created?: { vm: VmRow; jobId: string } };
    try {
      result = await withTransaction(this.db, async (c) => {
        if (idem) {
          const earlier = await this.keys.claim(c, user.id, idem);
          if (earlier) return { answer: earlier };
        }
        await this.admission.admit(c, req);
        const vm = await this.vms.insert({
          name: body.name, ownerId: user.id, provider, vcpus: body.vcpus, memoryMb: body.memoryMb, diskGb: body.diskGb,
          image: body.image ?? null, sshUser: this.opts.sshUser(provider), autoStopMinutes: rules.autoStopMinutes,
          lifetimeHours: rules.lifetimeHours, ephemeral: body.ephemeral ?? false,
        }, c).catch((err: Error & { code?: string }) => {
          if (err.code === '23505') throw conflict(`You already have a VM called ${body.name}`);
          throw err;
        });
        const { jobId } = await this.queueOperation(c, vm, 'create', user.id);
        await this.admission.placed?.(c, vm.id, jobId);
        const answer = { status: 202, body: respond(vm, jobId) };
        if (idem) await this.keys.complete(c, user.id, idem.key, answer);
        return { answer, created: { vm, jobId } };
      });
    } catch (err) {
      // Refusals are answers too: the same key gets the same refusal.
      if (idem && err instanceof AppError && [402, 403, 409].includes(err.status) && err.details?.reason !== 'in_progress') {
        await this.keys.storeRefusal(this.db, user.id, idem, { status: err.status, body: { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } } });
      }
      throw err;
    }
    if (result.created) {
      const { vm, jobId } = result.created;
      await this.audit.record({
        type: 'vm', action: 'vm.create', userId: user.id,
        metadata: { vmId: vm.id, name: body.name, provider, vcpus: body.vcpus, memoryMb: body.memoryMb, diskGb: body.diskGb, jobId },
      });
    }
    return result.answer;
  }

  /** Asks for `action` on a VM: 202-style result with the operation's job, or 409 `invalid_transition`. */
  async request(actor: VmActor, vmId: string, action: Exclude<VmAction, 'create'>): Promise<{ vm: VmRow; operation: VmOperationRow; jobId: string }> {
    if ('user' in actor) await this.get(actor.user, vmId);
    const userId = 'user' in actor ? actor.user.id : null;
    const discarded: VmOperationRow[] = [];
    const result = await withTransaction(this.db, async (c) => {
      const vm = await this.vms.lock(vmId, c);
      if (!vm) throw notFound('VM');
      let open = await this.vms.openOperations(vmId, c);
      // Destroy must work from every state: a dead operation ahead of it would hold it
      // forever, and nobody needs it once the VM is going away.
      if (action === 'destroy') {
        for (const dead of open.filter((o) => o.status === 'dead')) {
          await this.vms.finishOperation(dead.id, 'discarded', `${dead.error ?? 'failed'} (discarded: the VM is being destroyed)`, c);
          discarded.push(dead);
        }
        open = open.filter((o) => o.status !== 'dead');
      }
      const inFlight = open.find((o) => o.status === 'running')?.action ?? null;
      const queued = open.filter((o) => o.status === 'queued').map((o) => o.action);
      if (open.some((o) => o.status === 'dead')) {
        throw invalidTransition('an earlier action failed and waits for an administrator to retry or discard it (destroying the VM is still possible)', vm);
      }
      const verdict = checkRequest(action, vm.state, inFlight, queued);
      if (!verdict.ok) throw invalidTransition(verdict.reason, vm);
      // A restart keeps the VM counted as running; a start must fit the running quotas.
      if (action === 'start') await this.admission.allowStart?.(c, vm);
      const { operation, jobId } = await this.queueOperation(c, vm, action, userId);
      return { vm, operation, jobId };
    });
    for (const dead of discarded) {
      if (dead.queueJobId) await this.queue.discard?.(dead.queueJobId, dead.id).catch(() => {});
    }
    await this.audit.record({
      type: 'vm', action: `vm.${action}`, userId,
      metadata: { vmId, operationId: result.operation.id, jobId: result.jobId, ...('system' in actor ? { by: 'system', reason: actor.system } : {}) },
    });
    return result;
  }

  /**
   * Forced destroy (administrators): the record is marked destroyed and everything queued for
   * it discarded, whatever the provider says — for a machine the provider cannot remove or a
   * provider that is gone. A machine left behind carries the VM's label, so the reconciler
   * removes it as an orphan once its provider answers.
   */
  async forceDestroy(admin: User, vmId: string): Promise<VmRow> {
    if (admin.role !== 'admin') throw forbidden('Only administrators can force a destroy');
    const open = await this.vms.openOperations(vmId);
    const vm = await withTransaction(this.db, async (c) => {
      const locked = await this.vms.lock(vmId, c);
      if (!locked) throw notFound('VM');
      const gone = await this.vms.forceDestroyed(vmId, `removed by ${admin.username} (forced destroy)`, c);
      if (!gone) throw invalidTransition('the VM is already destroyed', locked);
      return gone;
    });
    for (const op of open) if (op.queueJobId) await this.queue.discard?.(op.queueJobId, op.id).catch(() => {});
    await this.opts.onForceDestroyed?.(vm);
    await this.audit.record({ type: 'admin', action: 'vm.force_destroy', severity: 'warning', userId: admin.id, metadata: { vmId, name: vm.name } });
    return vm;
  }

  /** Another attempt for a failed or dead operation; the VM goes back to that action's in-progress state. */
  async retry(admin: User, operationId: string): Promise<VmOperationRow> {
    const op = await this.adminOperation(admin, operationId, ['dead', 'failed']);
    if (!op.queueJobId || !this.queue.retry) throw conflict('This operation has no queue entry to retry');
    const rule = ACTION_RULES[op.action];
    await this.vms.transition(op.vmId, [rule.failed], rule.during, { statusDetail: `retried by ${admin.username}` });
    const again = await this.vms.requeueOperation(op.id);
    await this.queue.retry(op.queueJobId);
    await this.audit.record({ type: 'admin', action: 'vm.operation.retry', userId: admin.id, metadata: { operationId: op.id, vmId: op.vmId, action: op.action } });
    return again ?? op;
  }

  /** Drops a queued, failed or dead operation: the VM's later actions are no longer held behind it. */
  async discard(admin: User, operationId: string): Promise<VmOperationRow> {
    const op = await this.adminOperation(admin, operationId, ['dead', 'failed', 'queued']);
    const done = await this.vms.finishOperation(op.id, 'discarded', `discarded by ${admin.username}${op.error ? ` (was: ${op.error})` : ''}`);
    if (op.queueJobId) await this.queue.discard?.(op.queueJobId, op.id);
    if (op.jobId) await this.jobs.finish(op.jobId, 'canceled', null);
    await this.audit.record({ type: 'admin', action: 'vm.operation.discard', userId: admin.id, metadata: { operationId: op.id, vmId: op.vmId, action: op.action } });
    return done ?? op;
  }

  private async adminOperation(admin: User, id: string, allowed: VmOperationRow['status'][]): Promise<VmOperationRow> {
    if (admin.role !== 'admin') throw forbidden('Only administrators manage the VM queue');
    const op = /^[0-9a-f-]{36}$/i.test(id) ? await this.vms.getOperation(id) : null;
    if (!op) throw notFound('Operation');
    if (!allowed.includes(op.status)) throw conflict(`The operation is ${op.status}; only ${allowed.join(', ')} ones can be changed`);
    return op;
  }

  /** The operation row, the job that logs it and the queue entry, in the caller's transaction. */
  private async queueOperation(c: pg.PoolClient, vm: VmRow, action: VmAction, userId: string | null) {
    const job = await this.jobs.create({
      type: 'vm', command: `${action} ${vm.name}`, spec: { vmId: vm.id, action }, status: 'queued',
      // Asked by the console itself (auto-stop, expiry): the owner still finds it among their jobs.
      userId: userId ?? vm.ownerId, vmId: vm.id,
    }, c);
    const operation = await this.vms.insertOperation(vm.id, action, userId, job.id, c);
    const queueJobId = await this.queue.enqueue(c, { vmId: vm.id, operationId: operation.id, action });
    await this.vms.setQueueJob(operation.id, queueJobId, c);
    return { operation: { ...operation, queueJobId }, jobId: job.id };
  }

  private parseCreate(user: User, raw: unknown): CreateVmBody {
    if (!raw || typeof raw !== 'object') throw validationFailed('expected a JSON body: {name, vcpus, memoryMb, diskGb}');
    const b = raw as Record<string, unknown>;
    if (typeof b.name !== 'string' || !NAME_RE.test(b.name)) {
      throw validationFailed('name: 1–63 letters, digits and dashes, starting with a letter or digit', { field: 'name' });
    }
    const { limits } = this.opts;
    const int = (field: 'vcpus' | 'memoryMb' | 'diskGb') => {
      const v = b[field];
      const [min, max] = limits[field];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw validationFailed(`${field}: a whole number from ${min} to ${max}`, { field });
      }
      return v;
    };
    const body: CreateVmBody = { name: b.name, vcpus: int('vcpus'), memoryMb: int('memoryMb'), diskGb: int('diskGb') };
    if (b.provider !== undefined) {
      if (typeof b.provider !== 'string' || !this.opts.hasProvider(b.provider)) throw validationFailed(`provider: unknown provider ${String(b.provider)}`, { field: 'provider' });
      if (b.provider !== this.opts.defaultProvider && user.role !== 'admin') throw forbidden('Only administrators pick a provider other than the default');
      body.provider = b.provider;
    }
    if (b.image !== undefined && b.image !== null && b.image !== '') {
      if (typeof b.image !== 'string' || b.image.length > 200 || !/^[A-Za-z0-9][A-Za-z0-9._:/@ -]*$/.test(b.image)) {
        throw validationFailed('image: an image name', { field: 'image' });
      }
      body.image = b.image;
    }
    if (b.ephemeral !== undefined) {
      if (typeof b.ephemeral !== 'boolean') throw validationFailed('ephemeral: true or false', { field: 'ephemeral' });
      body.ephemeral = b.ephemeral;
    }
    return body;
  }
}
