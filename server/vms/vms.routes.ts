import { Router } from 'express';
import { z } from 'zod';
import type { InventoryVm, VmCreateOptions, VmQueueListing, VmStats } from '../../src/lib/shared/vms.ts';
import { VM_STATES } from '../../src/lib/shared/vms.ts';
import type { InventoryService } from '../inventory/inventory.service.ts';
import type { Db } from '../platform/db.ts';
import { validationFailed } from '../platform/errors.ts';
import { currentUser, requireAdmin } from '../platform/http/middleware.ts';
import { parse } from '../platform/http/validate.ts';
import type { ProviderRegistry } from '../providers/provider-registry.ts';
import type { DockerCapacity } from './vm-admission.ts';
import type { VmAccessService } from './vm-access.service.ts';
import type { VmReconciler } from './vm-reconciler.ts';
import type { VmQueue } from './vm-queue.ts';
import { idempotencyRequest } from './idempotency-keys.ts';
import { toVm, type VmViews } from './vm-view.ts';
import type { VmRepository, VmRow } from './vm.repository.ts';
import type { VmService } from './vm.service.ts';

const listQuery = z.object({ all: z.enum(['0', '1', 'true', 'false']).optional() });
const actionBody = z.object({ action: z.enum(['start', 'stop', 'restart', 'destroy']), force: z.boolean().optional() });
const patchBody = z.object({ metadata: z.record(z.string(), z.unknown()) });

export interface VmRouteDeps {
  db: Db;
  vms: VmRepository;
  service: VmService;
  access: VmAccessService;
  views: VmViews;
  providers: ProviderRegistry;
  capacity: DockerCapacity;
  queue: Pick<VmQueue, 'deadLettered'>;
  reconciler: VmReconciler;
  inventory: InventoryService;
  limits: VmCreateOptions['limits'];
  images: () => string[];
}

/**
 * /api/vms (owners see theirs, administrators every VM), actions, exec, the key download,
 * and the administrators' views: stats, the operation queue with retry and discard, and a
 * reconcile on demand.
 */
export function vmRoutes(d: VmRouteDeps): Router {
  const r = Router();

  r.get('/vms', async (req, res) => {
    const user = currentUser(req);
    const q = parse(listQuery, req.query);
    const rows = await d.vms.list({ ownerId: user.role === 'admin' ? undefined : user.id, withDestroyed: q.all === '1' || q.all === 'true' });
    const provisioned = await d.views.many(rows);
    const { environments } = await d.inventory.environments();
    const hosts: InventoryVm[] = environments.flatMap((e) => e.vms.map((h) => ({
      id: h.id, name: h.name, source: 'environment' as const, environment: e.name, host: h.host, user: h.user, port: h.port,
    })));
    res.json([...provisioned, ...hosts]);
  });

  r.get('/vms/providers', async (_req, res) => {
    const options: VmCreateOptions = {
      providers: await d.providers.all(),
      capacity: await d.capacity.usage(d.db),
      limits: d.limits,
      images: d.images(),
    };
    res.json(options);
  });

  r.get('/vms/stats', requireAdmin, async (_req, res) => {
    const { rows: byState } = await d.db.query(`SELECT state, count(*)::int AS n FROM vms GROUP BY state`);
    const { rows: byProvider } = await d.db.query(`SELECT provider, count(*)::int AS n FROM vms WHERE state <> 'destroyed' GROUP BY provider`);
    const { rows: ops } = await d.db.query(`SELECT status, count(*)::int AS n FROM vm_operations GROUP BY status`);
    const stats: VmStats = {
      byState: Object.fromEntries(VM_STATES.map((s) => [s, byState.find((x) => x.state === s)?.n ?? 0])),
      byProvider: Object.fromEntries(byProvider.map((x) => [x.provider, x.n])),
      capacity: await d.capacity.usage(d.db),
      operations: Object.fromEntries(['queued', 'running', 'succeeded', 'failed', 'dead', 'discarded'].map((s) => [s, ops.find((x) => x.status === s)?.n ?? 0])) as VmStats['operations'],
    };
    res.json(stats);
  });

  r.post('/vms', async (req, res) => {
    const user = currentUser(req);
    const idem = idempotencyRequest(req.get('Idempotency-Key'), req.body);
    // Built inside the create's transaction (and stored with an Idempotency-Key): the VM as
    // admitted, with its create queued.
    const respond = (vm: VmRow, jobId: string) => ({
      vm: toVm(vm, { inFlight: null, queued: ['create'] }, user.username, d.providers.billedWhenStopped(vm.provider)),
      jobId,
    });
    const answer = await d.service.create(user, req.body, respond, idem);
    res.status(answer.status).json(answer.body);
  });

  r.get('/vms/:id', async (req, res) => {
    res.json(await d.views.one(await d.service.get(currentUser(req), req.params.id)));
  });

  r.patch('/vms/:id', async (req, res) => {
    const vm = await d.service.get(currentUser(req), req.params.id);
    const body = parse(patchBody, req.body);
    if (JSON.stringify(body.metadata).length > 16 * 1024) throw validationFailed('metadata is limited to 16 KiB');
    res.json(await d.views.one((await d.vms.setMetadata(vm.id, body.metadata)) ?? vm));
  });

  r.get('/vms/:id/operations', async (req, res) => {
    const vm = await d.service.get(currentUser(req), req.params.id);
    res.json(await d.views.operations(await d.vms.operationsOf(vm.id)));
  });

  r.post('/vms/:id/actions', async (req, res) => {
    const user = currentUser(req);
    const body = parse(actionBody, req.body);
    if (body.force) {
      if (body.action !== 'destroy') throw validationFailed('force applies to destroy only');
      const vm = await d.service.forceDestroy(user, req.params.id);
      d.access.disconnect(vm.id);
      res.json({ vm: await d.views.one(vm), jobId: null });
      return;
    }
    const { vm, jobId } = await d.service.request({ user }, req.params.id, body.action);
    const fresh = (await d.vms.get(vm.id)) ?? vm;
    res.status(202).json({ vm: await d.views.one(fresh), jobId });
  });

  r.post('/vms/:id/exec', async (req, res) => {
    res.status(201).json(await d.access.exec(currentUser(req), req.params.id, req.body));
  });

  r.get('/vms/:id/ssh-key', async (req, res) => {
    const { name, key } = await d.access.downloadKey(currentUser(req), req.params.id);
    res.set('Cache-Control', 'no-store');
    res.attachment(`${name.replace(/[^A-Za-z0-9._-]/g, '_')}.key`);
    res.type('application/x-pem-file').send(key);
  });

  r.get('/admin/queue', requireAdmin, async (_req, res) => {
    const rows = await d.vms.operationsByStatus(['queued', 'running', 'failed', 'dead']);
    const ops = await d.views.operations(rows);
    const deadLettered = await d.queue.deadLettered().catch(() => new Set<string>());
    const listing: VmQueueListing = {
      queued: ops.filter((o) => o.status === 'queued'),
      active: ops.filter((o) => o.status === 'running'),
      failed: ops.filter((o) => o.status === 'failed').slice(-100),
      dead: ops.filter((o) => o.status === 'dead' || (o.status === 'failed' && deadLettered.has(o.id))),
    };
    res.json(listing);
  });

  // `:id` is the operation's id (the console job id of its log is accepted too).
  r.post('/admin/queue/:id/retry', requireAdmin, async (req, res) => {
    const id = await operationIdOf(d, String(req.params.id));
    res.json({ operation: (await d.views.operations([await d.service.retry(currentUser(req), id)]))[0] });
  });

  r.post('/admin/queue/:id/discard', requireAdmin, async (req, res) => {
    const id = await operationIdOf(d, String(req.params.id));
    res.json({ operation: (await d.views.operations([await d.service.discard(currentUser(req), id)]))[0] });
  });

  r.post('/admin/vms/reconcile', requireAdmin, async (_req, res) => {
    res.json(await d.reconciler.reconcile());
  });

  return r;
}

async function operationIdOf(d: VmRouteDeps, id: string): Promise<string> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return id;
  const { rows } = await d.db.query(`SELECT id FROM vm_operations WHERE id = $1 OR job_id = $1 ORDER BY id = $1 DESC LIMIT 1`, [id]);
  return rows[0]?.id ?? id;
}
