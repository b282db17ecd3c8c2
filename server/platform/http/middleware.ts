import type { NextFunction, Request, Response } from 'express';
import type { User } from '../../../src/lib/shared/auth.ts';
import { AppError, forbidden, toErrorBody, unauthenticated } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { AuthService } from '../auth/auth.service.ts';
import { readSessionCookie } from './cookies.ts';
import { isAllowedOrigin, isCrossSiteFetch } from './origin.ts';

declare module 'express-serve-static-core' {
  interface Request {
    user?: User;
    sessionSecret?: string;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Refuses state-changing requests that a browser sent from another origin. */
export function originGuard(allowedOrigins: readonly string[]) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const origin = req.headers.origin;
    if (!isAllowedOrigin(origin, req.headers.host, allowedOrigins) || isCrossSiteFetch(req.header('sec-fetch-site'))) {
      return next(new AppError(403, 'forbidden', 'Cross-origin request refused'));
    }
    next();
  };
}

/** Resolves the caller from the session cookie or a bearer token; does not require one. */
export async function resolveUser(auth: AuthService, cookieHeader?: string, authorization?: string, token?: unknown) {
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? (typeof token === 'string' ? token : undefined);
  if (bearer) return { user: await auth.userForToken(bearer) };
  const session = readSessionCookie(cookieHeader);
  if (session) return { user: await auth.userForSession(session), session };
  return { user: null };
}

export function authenticate(auth: AuthService) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const { user, session } = await resolveUser(auth, req.headers.cookie, req.headers.authorization);
    if (user) {
      req.user = user;
      req.sessionSecret = session;
    }
    next();
  };
}

export function requireUser(req: Request, _res: Response, next: NextFunction) {
  next(req.user ? undefined : unauthenticated());
}

export function requireAdmin(req: Request, _res: Response, next: NextFunction) {
  if (!req.user) return next(unauthenticated());
  next(req.user.role === 'admin' ? undefined : forbidden('Administrators only'));
}

/** The signed-in user of a route that `requireUser` guards. */
export function currentUser(req: Request): User {
  if (!req.user) throw unauthenticated();
  return req.user;
}

export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    // Body parser errors carry a status (400 bad JSON, 413 too large).
    const status = (err as { status?: number; type?: string }).status;
    if (!(err instanceof AppError) && status === 413) {
      return res.status(413).json({ error: { code: 'payload_too_large', message: 'Request body too large' } });
    }
    if (!(err instanceof AppError) && status === 400) {
      return res.status(400).json({ error: { code: 'validation_failed', message: 'Request body is not valid JSON' } });
    }
    const { status: code, body } = toErrorBody(err);
    const retryAfter = err instanceof AppError ? err.details?.retryAfterSeconds : undefined;
    if (typeof retryAfter === 'number') res.set('Retry-After', String(retryAfter));
    if (code >= 500) log.error({ err, path: req.path }, 'request failed');
    res.status(code).json(body);
  };
}
