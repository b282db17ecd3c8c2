import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { MIN_PASSWORD_LENGTH, TOKEN_LIFETIMES_DAYS } from '../../../src/lib/shared/auth.ts';
import { parse } from '../http/validate.ts';
import { currentUser, requireAdmin, requireUser } from '../http/middleware.ts';
import { SECURE_SESSION_COOKIE, SESSION_COOKIE, sessionCookieName } from '../http/cookies.ts';
import type { AuthService } from './auth.service.ts';

const newPassword = z.string().min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`).max(1024);
const loginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) });
const tokenBody = z.object({
  name: z.string().trim().min(1).max(100),
  /** Days until the token stops working; null or absent: never. */
  expiresInDays: z.number().int().min(1).max(3650).nullable().default(null),
});
const passwordBody = z.object({ currentPassword: z.string().min(1).max(1024), newPassword });
const resetBody = z.object({ newPassword });
const newUserBody = z.object({
  username: z.string().min(1).max(64),
  password: newPassword,
  role: z.enum(['admin', 'user']).default('user'),
  tier: z.string().min(1).max(32).optional(),
  canTerminal: z.boolean().optional(),
});
const userPatch = z.object({
  role: z.enum(['admin', 'user']).optional(),
  tier: z.string().min(1).max(32).optional(),
  canTerminal: z.boolean().optional(),
  disabled: z.boolean().optional(),
});

/**
 * `req.secure` is true for HTTPS, directly or as reported by a proxy that TRUST_PROXY trusts
 * (X-Forwarded-Proto from anyone else is ignored), so the cookie is Secure exactly when the
 * browser talks HTTPS.
 */
function setSessionCookie(req: Request, res: Response, session: string, expires: Date) {
  res.cookie(sessionCookieName(req.secure), session, { httpOnly: true, sameSite: 'lax', secure: req.secure, expires, path: '/' });
}

function clearSessionCookies(req: Request, res: Response) {
  res.clearCookie(SESSION_COOKIE, { path: '/' });
  if (req.secure) res.clearCookie(SECURE_SESSION_COOKIE, { path: '/', secure: true });
}

/** /api/auth, /api/tokens and /api/admin/users. */
export function authRoutes(auth: AuthService): Router {
  const r = Router();

  r.post('/auth/login', async (req, res) => {
    const { username, password } = parse(loginBody, req.body);
    const { user, session, expiresAt } = await auth.login(username, password, req.ip);
    setSessionCookie(req, res, session, expiresAt);
    res.json({ user });
  });

  r.post('/auth/logout', requireUser, async (req, res) => {
    if (req.sessionSecret) await auth.logout(req.sessionSecret, currentUser(req).id);
    clearSessionCookies(req, res);
    res.json({ ok: true });
  });

  r.get('/auth/me', requireUser, (req, res) => {
    res.json({ user: currentUser(req) });
  });

  r.post('/auth/password', requireUser, async (req, res) => {
    const body = parse(passwordBody, req.body);
    await auth.changePassword(currentUser(req), req.sessionSecret, body.currentPassword, body.newPassword, req.ip);
    res.status(204).end();
  });

  r.post('/tokens', requireUser, async (req, res) => {
    const { name, expiresInDays } = parse(tokenBody, req.body);
    res.status(201).json(await auth.createToken(currentUser(req), name, expiresInDays));
  });
  r.get('/tokens', requireUser, async (req, res) => {
    res.json({ tokens: await auth.listTokens(currentUser(req)), lifetimesDays: TOKEN_LIFETIMES_DAYS });
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
    const { disabled, ...patch } = parse(userPatch, req.body);
    const actor = currentUser(req);
    if (Object.keys(patch).length) await auth.updateUser(actor, id, patch);
    if (disabled !== undefined) await auth.setDisabled(actor, id, disabled);
    res.json({ user: await auth.account(id) });
  });
  r.post('/admin/users/:id/password', requireAdmin, async (req, res) => {
    const id = parse(z.uuid(), req.params.id);
    await auth.resetPassword(currentUser(req), id, parse(resetBody, req.body).newPassword);
    res.status(204).end();
  });
  r.post('/admin/users/:id/unlock', requireAdmin, async (req, res) => {
    const id = parse(z.uuid(), req.params.id);
    res.json({ user: await auth.unlock(currentUser(req), id) });
  });
  r.delete('/admin/users/:id', requireAdmin, async (req, res) => {
    const id = parse(z.uuid(), req.params.id);
    await auth.deleteUser(currentUser(req), id);
    res.status(204).end();
  });

  return r;
}
