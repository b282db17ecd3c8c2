import { Router } from 'express';
import { requireAdmin } from '../platform/http/middleware.ts';
import type { ServerRegistry } from './server-registry.ts';

/** /api/admin/servers: the console servers sharing this database. */
export function clusterRoutes(registry: ServerRegistry): Router {
  const r = Router();
  r.get('/admin/servers', requireAdmin, async (_req, res) => {
    res.json(await registry.list());
  });
  return r;
}
