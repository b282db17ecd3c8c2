import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../server/platform/db.ts';
import { createLogger } from '../../server/platform/logger.ts';
import { VmQueue, type VmOpHandlers, type VmOpPayload } from '../../server/vms/vm-queue.ts';
import { freshDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/jobs.ts';

describe('VM operation queue (pg-boss, real Postgres)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let queue: VmQueue;
  const ran: string[] = [];
  const failOnce = new Set<string>();
  const handler = (action: string) => async (p: VmOpPayload) => {
    const tag = `${p.vmId}:${action}:${p.operationId}`;
    ran.push(tag);
    if (failOnce.delete(tag)) throw new Error(`${action} failed on purpose`);
    if (action === 'create') await new Promise((r) => setTimeout(r, 150));
  };
  const handlers: VmOpHandlers = {
    create: handler('create'), start: handler('start'), stop: handler('stop'), restart: handler('restart'), destroy: handler('destroy'),
  };

  beforeAll(async () => {
    database = await freshDatabase();
    queue = new VmQueue(database.url, handlers, createLogger('silent'), {
      retry: { provision: { limit: 3, delaySeconds: 1 }, other: { limit: 2, delaySeconds: 1 } },
      concurrency: { provision: 2, other: 5 },
      timeoutSeconds: { provision: 60, other: 60 },
      pollSeconds: 0.5,
    });
    await queue.start();
  });

  afterAll(async () => {
    await queue?.stop();
    await database?.drop();
  });

  it("runs one VM's actions in the order asked, a retried create included, while another VM runs beside", async () => {
    failOnce.add('vm-a:create:op1');
    for (const [vmId, action, operationId] of [
      ['vm-a', 'create', 'op1'], ['vm-b', 'create', 'op1'], ['vm-a', 'stop', 'op2'], ['vm-a', 'start', 'op3'], ['vm-b', 'destroy', 'op2'],
    ] as const) {
      await queue.enqueue(database.db, { vmId, operationId, action });
    }
    await waitFor(async () => ran.filter((t) => t.startsWith('vm-a')).length === 4 && ran.filter((t) => t.startsWith('vm-b')).length === 2, 30_000, 'every operation');
    expect(ran.filter((t) => t.startsWith('vm-a'))).toEqual(['vm-a:create:op1', 'vm-a:create:op1', 'vm-a:stop:op2', 'vm-a:start:op3']);
    expect(ran.filter((t) => t.startsWith('vm-b'))).toEqual(['vm-b:create:op1', 'vm-b:destroy:op2']);
    // vm-b did not wait for vm-a's retry.
    expect(ran.indexOf('vm-b:destroy:op2')).toBeLessThan(ran.lastIndexOf('vm-a:create:op1'));
  });

  it('enqueues in the caller\'s transaction: a rolled-back request leaves nothing queued', async () => {
    await expect(withTransaction(database.db, async (client) => {
      await queue.enqueue(client, { vmId: 'vm-c', operationId: 'op1', action: 'create' });
      throw new Error('admission refused');
    })).rejects.toThrow('admission refused');
    await withTransaction(database.db, (client) => queue.enqueue(client, { vmId: 'vm-d', operationId: 'op1', action: 'create' }));
    await waitFor(async () => ran.includes('vm-d:create:op1'), 10_000, 'the committed create');
    expect(ran.some((t) => t.startsWith('vm-c'))).toBe(false);
  });

  it('runs each operation once when two servers work the same queue, and keeps each VM in order', async () => {
    // A second server's workers: same database, same queue, handlers that say which server ran.
    const byServer: Array<{ server: string; tag: string }> = [];
    const on = (server: string, action: string) => async (p: VmOpPayload) => {
      byServer.push({ server, tag: `${p.vmId}:${action}:${p.operationId}` });
      await new Promise((r) => setTimeout(r, 100));
    };
    const options = {
      retry: { provision: { limit: 1, delaySeconds: 1 }, other: { limit: 1, delaySeconds: 1 } },
      concurrency: { provision: 2, other: 5 },
      timeoutSeconds: { provision: 60, other: 60 },
      pollSeconds: 0.5,
    };
    const workers = (server: string): VmOpHandlers => ({
      create: on(server, 'create'), start: on(server, 'start'), stop: on(server, 'stop'), restart: on(server, 'restart'), destroy: on(server, 'destroy'),
    });
    // The suite's own queue is stopped first, so only these two take work.
    await queue.stop();
    const a = new VmQueue(database.url, workers('A'), createLogger('silent'), options);
    const b = new VmQueue(database.url, workers('B'), createLogger('silent'), options);
    await Promise.all([a.start(), b.start()]);
    try {
      const vms = Array.from({ length: 12 }, (_, i) => `vm-two-${i}`);
      for (const vmId of vms) {
        await a.enqueue(database.db, { vmId, operationId: 'op1', action: 'create' });
        await b.enqueue(database.db, { vmId, operationId: 'op2', action: 'stop' });
      }
      await waitFor(async () => byServer.length >= vms.length * 2, 30_000, 'every operation');
      await new Promise((r) => setTimeout(r, 1000)); // a double run would show up by now
      const tags = byServer.map((r) => r.tag);
      expect(new Set(tags).size).toBe(tags.length);
      expect(tags).toHaveLength(vms.length * 2);
      expect(new Set(byServer.map((r) => r.server))).toEqual(new Set(['A', 'B']));
      for (const vmId of vms) {
        expect(tags.filter((t) => t.startsWith(`${vmId}:`))).toEqual([`${vmId}:create:op1`, `${vmId}:stop:op2`]);
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
