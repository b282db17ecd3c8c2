import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '../../src/lib/shared/auth.ts';
import { JobRepository } from '../../server/jobs/job.repository.ts';
import { AuditLog } from '../../server/platform/audit.ts';
import { createLogger } from '../../server/platform/logger.ts';
import { VmRepository } from '../../server/vms/vm.repository.ts';
import { VmService } from '../../server/vms/vm.service.ts';
import type { VmOpPayload } from '../../server/vms/vm-queue.ts';
import { freshDatabase } from '../helpers/db.ts';

describe('asking for VM actions (real Postgres)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let repo: VmRepository;
  let service: VmService;
  let owner: User;
  let other: User;
  /** What reached the queue, and whether its transaction committed. */
  const enqueued: VmOpPayload[] = [];

  beforeAll(async () => {
    database = await freshDatabase();
    repo = new VmRepository(database.db);
    const queue = {
      // Written through the caller's transaction, like the real queue: rolled back with it.
      async enqueue(q: { query: (t: string, v?: unknown[]) => Promise<unknown> }, p: VmOpPayload) {
        await q.query(`INSERT INTO audit_events (type, action, metadata) VALUES ('system', 'test.enqueue', $1)`, [JSON.stringify(p)]);
        enqueued.push(p);
        return randomUUID();
      },
    };
    const admission = { async admit() {} };
    service = new VmService(database.db, repo, new JobRepository(database.db), queue, new AuditLog(database.db, createLogger('silent')), admission, {
      defaultProvider: 'docker',
      hasProvider: (n) => n === 'docker',
      assertUsable: async () => {},
      sshUser: () => 'root',
      lifecycleFor: () => ({ autoStopMinutes: null, lifetimeHours: null }),
      limits: { vcpus: [1, 8], memoryMb: [256, 16384], diskGb: [1, 100] },
    });
    const mk = async (username: string, role: 'admin' | 'user') => {
      const { rows } = await database.db.query(`INSERT INTO users (username, password_hash, role) VALUES ($1, 'x', $2) RETURNING id`, [username, role]);
      return { id: rows[0].id, username, role, tier: 'free', canTerminal: false } as User;
    };
    owner = await mk('owner', 'user');
    other = await mk('other', 'user');
  });
  afterAll(async () => database?.drop());

  let made = 0;
  const provisioningVm = async () => {
    const vm = await repo.insert({ name: `box-${++made}`, ownerId: owner.id, provider: 'docker', vcpus: 1, memoryMb: 512, diskGb: 10, image: null, sshUser: 'vmo' });
    await database.db.query(`INSERT INTO vm_operations (vm_id, action, status) VALUES ($1, 'create', 'running')`, [vm.id]);
    await repo.transition(vm.id, ['requested'], 'provisioning');
    return vm;
  };

  it('accepts a stop while the VM provisions (it runs after the create), with its job and queue entry', async () => {
    const vm = await provisioningVm();
    const r = await service.request({ user: owner }, vm.id, 'stop');
    expect(r.operation).toMatchObject({ action: 'stop', status: 'queued', jobId: r.jobId });
    expect(enqueued.at(-1)).toEqual({ vmId: vm.id, operationId: r.operation.id, action: 'stop' });
    const job = (await database.db.query('SELECT type, status, vm_id AS "vmId" FROM jobs WHERE id = $1', [r.jobId])).rows[0];
    expect(job).toEqual({ type: 'vm', status: 'queued', vmId: vm.id });
  });

  it('refuses an action the queued ones make impossible with 409 invalid_transition and the state, leaving nothing behind', async () => {
    const vm = await provisioningVm();
    await service.request({ user: owner }, vm.id, 'stop');
    const before = enqueued.length;
    const jobsBefore = Number((await database.db.query('SELECT count(*) FROM jobs')).rows[0].count);
    await expect(service.request({ user: owner }, vm.id, 'stop')).rejects.toMatchObject({ status: 409, code: 'invalid_transition', details: { state: 'provisioning' } });
    expect(enqueued.length).toBe(before);
    expect(Number((await database.db.query('SELECT count(*) FROM jobs')).rows[0].count)).toBe(jobsBefore);
  });

  it('judges two racing requests one at a time: of two stops, one is queued and one refused', async () => {
    const vm = await provisioningVm();
    const results = await Promise.allSettled([service.request({ user: owner }, vm.id, 'stop'), service.request({ user: owner }, vm.id, 'stop')]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('another user gets 404, not a hint that the VM exists', async () => {
    const vm = await provisioningVm();
    await expect(service.request({ user: other }, vm.id, 'destroy')).rejects.toMatchObject({ status: 404 });
  });
});
