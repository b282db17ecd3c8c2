import { Router, type Request } from 'express';
import { z } from 'zod';
import { currentUser, requireAdmin, requireUser } from '../platform/http/middleware.ts';
import { parse } from '../platform/http/validate.ts';
import type { ProjectsService } from './projects.service.ts';

const newProjectBody = z.object({
  alias: z.string().trim().min(1).max(64),
  dir: z.string().trim().min(1).max(4096),
});
const targetsQuery = z.object({
  refresh: z.enum(['0', '1', 'true', 'false']).optional(),
  details: z.enum(['0', '1', 'true', 'false']).optional(),
});
const yes = (v?: string) => v === '1' || v === 'true';
const aliasParam = (req: Request) => parse(z.string().min(1), req.params.alias);

/** /api/projects: the mkcli registry plus UI-registered projects, and their make targets. */
export function projectRoutes(projects: ProjectsService): Router {
  const r = Router();

  // The contract (API.md) makes the list a bare array; registry problems have their own route.
  r.get('/projects', requireUser, async (_req, res) => {
    res.json(await projects.list());
  });
  // Before /projects/:alias, so it is never taken for an alias.
  r.get('/projects/registry-errors', requireUser, async (_req, res) => {
    await projects.list(); // re-reads the registry, so the errors are current
    res.json({ errors: projects.registryErrors() });
  });
  r.post('/projects', requireAdmin, async (req, res) => {
    res.status(201).json(await projects.add(currentUser(req), parse(newProjectBody, req.body)));
  });

  r.get('/projects/:alias', requireUser, async (req, res) => {
    res.json(await projects.get(aliasParam(req)));
  });
  r.delete('/projects/:alias', requireAdmin, async (req, res) => {
    await projects.remove(currentUser(req), aliasParam(req));
    res.status(204).end();
  });

  // A bare array per the contract; ?details=1 adds where the list came from and why it is empty.
  r.get('/projects/:alias/targets', requireUser, async (req, res) => {
    const q = parse(targetsQuery, req.query);
    const list = await projects.targets(aliasParam(req), { refresh: yes(q.refresh) });
    res.json(yes(q.details) ? list : list.targets);
  });

  return r;
}
