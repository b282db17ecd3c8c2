import { Router } from 'express';
import { z } from 'zod';
import { parse } from '../http/validate.ts';
import { currentUser, requireAdmin, requireUser } from '../http/middleware.ts';
import type { AuthService } from './auth.service.ts';
import { SESSION_COOKIE } from './auth.service.ts';

const loginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) });
const tokenBody = z.object({ name: z.string().trim().min(1).max(100) });
const newUserBody = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(8, 'must be at least 8 characters').max(1024),
  role: z.enum(['admin', 'user']).default('user'),
  tier: z.string().min(1).max(32).optional(),
  canTerminal: z.boolean().optional(),
});
const userPatch = z.object({
  role: z.enum(['admin', 'user']).optional(),
  tier: z.string().min(1).max(32).optional(),
  canTerminal: z.boolean().optional(),
});

/** /api/auth, /api/tokens and /api/admin/users. */
export function authRoutes(auth: AuthService, opts: { secureCookies: boolean }): Router {
  const r = Router();

  r.post('/auth/login', async (req, res) => {
    const { username, password } = parse(loginBody, req.body);
    const { user, session, expiresAt } = await auth.login(username, password, req.ip);
    res.cookie(SESSION_COOKIE, session, {
      httpOnly: true, sameSite: 'lax', secure: opts.secureCookies, expires: expiresAt, path: '/',
    });
    res.json({ user });
  });

  r.post('/auth/logout', requireUser, async (req, res) => {
    if (req.sessionSecret) await auth.logout(req.sessionSecret, currentUser(req).id);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.json({ ok: true });
  });

  r.get('/auth/me', requireUser, (req, res) => {
    res.json({ user: currentUser(req) });
  });

  r.post('/tokens', requireUser, async (req, res) => {
    const { name } = parse(tokenBody, req.body);
    res.status(201).json(await auth.createToken(currentUser(req), name));
  });
  r.get('/tokens', requireUser, async (req, res) => {
    res.json({ tokens: await auth.listTokens(currentUser(req)) });
  });
  r.delete('/tokens/:id', requireUser, async (req, res) => {
    const id = parse(z.uuid(), req.params.id);
    await auth.deleteToken(currentUser(req), id);
    res.status(204).end();
  });

  r.get('/admin/users', requireAdmin, async (_req, res) => {
    res.json({ users: await auth.listUsers() });
  });
  r.post('/admin/users', requireAdmin, async (req, res) => {
    res.status(201).json({ user: await auth.createUser(currentUser(req), parse(newUserBody, req.body)) });
  });
  r.patch('/admin/users/:id', requireAdmin, async (req, res) => {
    const id = parse(z.uuid(), req.params.id);
    res.json({ user: await auth.updateUser(currentUser(req), id, parse(userPatch, req.body)) });
  });

  return r;
}
