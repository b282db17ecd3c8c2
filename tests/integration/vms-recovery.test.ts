import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import type { Vm } from '../../src/lib/shared/vms.ts';
import { freePort } from '../../server/platform/free-port.ts';
import { freshDatabase } from '../helpers/db.ts';
import { dockerForTests, removeContainersLabelled } from '../helpers/docker.ts';
import { waitFor } from '../helpers/jobs.ts';
import { ADMIN_PASSWORD, client, login } from '../helpers/server.ts';
import { spawnServer } from '../helpers/server-process.ts';

const docker = await dockerForTests();

/**
 * A server killed with SIGKILL in the middle of a provision, then started again on the same
 * database: the queue notices the dead worker's missing heartbeats and hands the create to
 * the new server, whose attempt finds the container the first one made (by its label) instead
 * of making a second. The VM ends running (or error), never stuck in provisioning.
 */
describe.skipIf(!docker)('a server killed mid-provision (real dockerd)', () => {
  const children: ChildProcess[] = [];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-vm-recovery-'));
  let consoleId: string | null = null;
  let database: Awaited<ReturnType<typeof freshDatabase>> | undefined;
  afterAll(async () => {
    await Promise.all(children.map((ch) => new Promise((res) => (ch.exitCode !== null || ch.signalCode !== null ? res(null) : (ch.once('exit', res), ch.kill('SIGKILL'))))));
    await database?.drop().catch(() => {});
    if (consoleId) await removeContainersLabelled(docker as Docker, `vm-orchestrator.console=${consoleId}`);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  function startServer(databaseUrl: string, port: number) {
    const server = spawnServer(port, {
      DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', ADMIN_PASSWORD, DATA_DIR: dataDir,
      VM_QUEUE_HEARTBEAT_SECONDS: '10', VM_QUEUE_SUPERVISE_SECONDS: '2', VM_PROVISION_RETRY_SECONDS: '1',
    });
    children.push(server.child);
    return server;
  }

  it('ends running with one container after a restart', async () => {
    database = await freshDatabase({ migrate: false });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const first = startServer(database.url, port);
    await first.healthy('the first server');
    const c = client(base, { cookie: await login(base) });
    consoleId = (await database.db.query('SELECT id FROM console_identity')).rows[0].id;

    const r = await c.post('/api/vms', { name: 'survivor', vcpus: 1, memoryMb: 256, diskGb: 5 });
    expect(r.status, r.text).toBe(202);
    const vmId = r.json.vm.id as string;
    await waitFor(async () => ((await c.get(`/api/vms/${vmId}`)).json as Vm).state === 'provisioning', 20_000, 'provisioning');
    first.child.kill('SIGKILL');
    await new Promise((res) => first.child.once('exit', res));

    await startServer(database.url, port).healthy('the second server');
    const c2 = client(base, { cookie: await login(base) });
    const vm = await waitFor(async () => {
      const v = (await c2.get(`/api/vms/${vmId}`)).json as Vm;
      return ['running', 'error'].includes(v.state) && !v.status.inFlight ? v : null;
    }, 90_000, 'the VM to settle');
    expect(vm.state, vm.statusDetail ?? '').toBe('running');
    const containers = await (docker as Docker).listContainers({ all: true, filters: { label: [`vm-orchestrator.vm=${vmId}`] } });
    expect(containers).toHaveLength(1);

    const ops = (await c2.get(`/api/vms/${vmId}/operations`)).json;
    expect(ops[0]).toMatchObject({ action: 'create', status: 'succeeded' });
    expect(ops[0].attempts).toBeGreaterThanOrEqual(2);
    const exec = await c2.post(`/api/vms/${vmId}/exec`, { command: 'echo still-here' });
    expect(exec.status).toBe(201);
  }, 150_000);
});
