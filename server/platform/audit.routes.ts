import { Router } from 'express';
import { z } from 'zod';
import type { AuditLog } from './audit.ts';
import { currentUser, requireAdmin } from './http/middleware.ts';
import { parse } from './http/validate.ts';

const pageQuery = z.object({
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  type: z.enum(['vm', 'system', 'admin', 'auth', 'job']).optional(),
  severity: z.enum(['info', 'warning', 'critical']).optional(),
  action: z.string().trim().min(1).max(100).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});
const adminQuery = pageQuery.extend({ user: z.uuid().optional() });

/** The audit feed: `GET /events` (your own), `GET /admin/events` (everyone's, admins only). */
export function auditRoutes(audit: AuditLog): Router {
  const r = Router();
  r.get('/events', async (req, res) => {
    res.json(await audit.list({ userId: currentUser(req).id, ...parse(pageQuery, req.query) }));
  });
  r.get('/admin/events', requireAdmin, async (req, res) => {
    const { user, ...q } = parse(adminQuery, req.query);
    res.json(await audit.list({ ...q, userId: user }));
  });
  return r;
}
