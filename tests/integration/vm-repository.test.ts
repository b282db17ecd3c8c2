import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../server/platform/db.ts';
import { VmRepository } from '../../server/vms/vm.repository.ts';
import { freshDatabase } from '../helpers/db.ts';

describe('VM repository (real Postgres)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let repo: VmRepository;
  let ownerId: string;

  beforeAll(async () => {
    database = await freshDatabase();
    repo = new VmRepository(database.db);
    const { rows } = await database.db.query(`INSERT INTO users (username, password_hash, role) VALUES ('owner', 'x', 'user') RETURNING id`);
    ownerId = rows[0].id;
  });
  afterAll(async () => database?.drop());

  let made = 0;
  const newVm = () => repo.insert({ name: `vm-${++made}`, ownerId, provider: 'docker', vcpus: 1, memoryMb: 512, diskGb: 10, image: null, sshUser: 'vmo' });

  it('moves state only from the states it is given; a stale transition is a conflict (null), not an overwrite', async () => {
    const vm = await newVm();
    expect(vm.state).toBe('requested');
    const provisioning = await repo.transition(vm.id, ['requested'], 'provisioning');
    expect(provisioning?.state).toBe('provisioning');
    expect(await repo.transition(vm.id, ['requested'], 'provisioning')).toBeNull();
    const running = await repo.transition(vm.id, ['provisioning'], 'running', { providerId: 'c1', host: '127.0.0.1', sshPort: 40022, hostKeys: ['ssh-ed25519 AAAA'] });
    expect(running).toMatchObject({ state: 'running', providerId: 'c1', sshPort: 40022, hostKeys: ['ssh-ed25519 AAAA'] });
    expect((await repo.get(vm.id))?.state).toBe('running');
  });

  it('exactly one of two racing transitions from the same state wins', async () => {
    const vm = await newVm();
    await repo.transition(vm.id, ['requested'], 'provisioning');
    await repo.transition(vm.id, ['provisioning'], 'running');
    const [a, b] = await Promise.all([
      repo.transition(vm.id, ['running'], 'stopping'),
      repo.transition(vm.id, ['running'], 'destroying'),
    ]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
  });

  it('accounts runtime when the VM leaves running, in the same statement', async () => {
    const vm = await newVm();
    await repo.transition(vm.id, ['requested'], 'provisioning');
    await repo.transition(vm.id, ['provisioning'], 'running');
    // Backdate the start instead of sleeping.
    await database.db.query(`UPDATE vms SET running_since = now() - interval '90 seconds' WHERE id = $1`, [vm.id]);
    const stopped = await repo.transition(vm.id, ['running'], 'stopped');
    expect(stopped?.runtimeSeconds).toBeGreaterThanOrEqual(90);
    expect(stopped?.runningSince).toBeNull();
  });

  it('refuses a state outside the state machine at the database', async () => {
    const vm = await newVm();
    await expect(database.db.query(`UPDATE vms SET state = 'paused' WHERE id = $1`, [vm.id])).rejects.toThrow(/vms_state_check/);
  });

  it('finishes an operation once: a redelivered finish changes nothing', async () => {
    const vm = await newVm();
    const op = await withTransaction(database.db, (c) => repo.insertOperation(vm.id, 'create', ownerId, null, c));
    expect((await repo.startOperation(op.id))?.attempts).toBe(1);
    expect((await repo.startOperation(op.id))?.attempts).toBe(2); // a retry
    expect((await repo.finishOperation(op.id, 'succeeded', null))?.status).toBe('succeeded');
    expect(await repo.finishOperation(op.id, 'failed', 'late')).toBeNull();
    expect(await repo.startOperation(op.id)).toBeNull();
    expect(await repo.openOperations(vm.id)).toEqual([]);
  });
});
