import { Router } from 'express';
import { z } from 'zod';
import type { HostDetails } from '../../src/lib/shared/inventory.ts';
import { currentUser, requireAdmin } from '../platform/http/middleware.ts';
import { parse } from '../platform/http/validate.ts';
import type { KnownHostsService } from '../ssh/known-hosts.service.ts';
import type { SshPool } from '../ssh/ssh-pool.ts';
import type { InventoryService } from './inventory.service.ts';

const detailsQuery = z.object({ details: z.enum(['0', '1', 'true', 'false']).optional() });
const resolveQuery = z.object({ host: z.string().trim().min(1).max(255) });

/**
 * /api/environments (every signed-in user: hosts are shared inventory), /api/hosts/:id
 * (a host page's data; the effective ssh settings, which name key files, for admins only),
 * and /api/ssh/resolve (admins).
 */
export function inventoryRoutes(inventory: InventoryService, knownHosts: KnownHostsService, pool: SshPool): Router {
  const r = Router();

  // A bare array per the contract; ?details=1 adds where the folder is and whether it exists.
  r.get('/environments', async (req, res) => {
    const q = parse(detailsQuery, req.query);
    const all = await inventory.environments();
    res.json(q.details === '1' || q.details === 'true' ? all : all.environments);
  });

  r.get('/hosts/:id', async (req, res) => {
    const user = currentUser(req);
    const row = await inventory.host(req.params.id, true);
    const host = await inventory.describe(row);
    const details: HostDetails = { ...host, ssh: null, keys: [], ...(row.removedAt ? { removedAt: row.removedAt } : {}) };
    try {
      const { plan, resolved } = await inventory.settings(row);
      if (user.role === 'admin') details.ssh = inventory.toResolved(resolved);
      details.keys = await knownHosts.forPlan(plan);
      details.knownHostsName = plan.target.lookupName;
      details.via = plan.hops.map((h) => h.label);
    } catch (err) {
      details.sshError = (err as Error).message;
    }
    res.json(details);
  });

  /** Connects (verifying the host key and logging in) without running anything. */
  r.post('/hosts/:id/check', async (req, res) => {
    const row = await inventory.host(req.params.id);
    const plan = await inventory.route(row);
    const started = Date.now();
    const lease = await pool.lease(plan);
    lease.release();
    res.json({ ok: true, host: plan.target.label, user: plan.target.config.user, via: plan.hops.map((h) => h.label), ms: Date.now() - started });
  });

  r.get('/ssh/resolve', requireAdmin, async (req, res) => {
    res.json(await inventory.resolveAlias(parse(resolveQuery, req.query).host));
  });

  return r;
}
