import { Router } from 'express';
import { z } from 'zod';
import { currentUser, requireAdmin } from '../platform/http/middleware.ts';
import { parse } from '../platform/http/validate.ts';
import type { CreditsService } from './credits.service.ts';

const ledgerQuery = z.object({ before: z.coerce.number().int().positive().optional(), limit: z.coerce.number().int().min(1).max(500).default(50) });
const sizeBody = z.object({ vcpus: z.number().int().min(1).max(64), memoryMb: z.number().int().min(1).max(1 << 20), diskGb: z.number().int().min(1).max(10_000) });
const adjustBody = z.object({ amount: z.number().int(), reason: z.string().trim().min(1).max(500) });
const quotaBody = z.object({
  tier: z.string().optional(),
  reset: z.boolean().optional(),
  maxVms: z.number().int().min(0).nullable().optional(),
  maxRunning: z.number().int().min(0).nullable().optional(),
  vcpus: z.number().int().min(0).nullable().optional(),
  memoryMb: z.number().int().min(0).nullable().optional(),
  diskGb: z.number().int().min(0).nullable().optional(),
  lifetimeHours: z.number().int().min(0).nullable().optional(),
  autoStopMinutes: z.number().int().min(0).nullable().optional(),
});

/** /api/credits (own account), the quote, and the administrators' grants, quotas, ledgers and auditor. */
export function creditRoutes(credits: CreditsService): Router {
  const r = Router();

  r.get('/credits', async (req, res) => {
    res.json(await credits.view(currentUser(req)));
  });

  r.get('/credits/ledger', async (req, res) => {
    const q = parse(ledgerQuery, req.query);
    res.json(await credits.entries(currentUser(req).id, q.before ?? null, q.limit));
  });

  r.post('/vms/quote', async (req, res) => {
    res.json(await credits.quote(currentUser(req), parse(sizeBody, req.body)));
  });

  r.get('/admin/users/:id/credits', requireAdmin, async (req, res) => {
    const q = parse(ledgerQuery, req.query);
    const id = String(req.params.id);
    res.json({ ...(await credits.viewOf(id)), ledger: await credits.entries(id, q.before ?? null, q.limit) });
  });

  r.post('/admin/users/:id/credits', requireAdmin, async (req, res) => {
    const body = parse(adjustBody, req.body);
    res.json(await credits.adjust(currentUser(req), String(req.params.id), body.amount, body.reason));
  });

  r.put('/admin/users/:id/quota', requireAdmin, async (req, res) => {
    const { tier, reset, ...overrides } = parse(quotaBody, req.body);
    res.json(await credits.setQuota(currentUser(req), String(req.params.id), { tier, reset, overrides }));
  });

  r.post('/admin/credits/audit', requireAdmin, async (req, res) => {
    res.json(await credits.runAudit(currentUser(req).id));
  });

  return r;
}
