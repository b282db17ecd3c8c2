import type http from 'node:http';
import { Server, type ServerOptions } from 'socket.io';
import type { User } from '../../src/lib/shared/auth.ts';
import type { AccessEnded, AuthService } from './auth/auth.service.ts';
import { hashSecret } from './auth/passwords.ts';
import { resolveUser } from './http/middleware.ts';
import { isAllowedOrigin, isCrossSiteFetch } from './http/origin.ts';
import type { Logger } from './logger.ts';
import { batchWebSocketWrites } from './socket-write-batching.ts';

export interface SocketData {
  user: User;
  /** Hash of the session cookie the socket signed in with; absent for token sockets. */
  sessionHash?: string;
}

/**
 * One Socket.io server for every namespace. The Origin check lives in allowRequest
 * because the cors option does not stop a WebSocket-transport handshake from a foreign
 * page; authentication runs for every namespace as middleware.
 */
export function createSocketServer(httpServer: http.Server, allowedOrigins: readonly string[], log: Logger, adapter?: ServerOptions['adapter']) {
  const io = new Server(httpServer, {
    // With several servers on one database, broadcasts (list updates, VM updates) and
    // server-to-server messages go through Postgres; alone, the in-memory default.
    ...(adapter ? { adapter } : {}),
    serveClient: false,
    // Background tabs throttle timers; a generous ping timeout keeps idle consoles connected.
    pingInterval: 25_000,
    pingTimeout: 60_000,
    maxHttpBufferSize: 1e6,
    allowRequest: (req, callback) => {
      const ok = isAllowedOrigin(req.headers.origin, req.headers.host, allowedOrigins) &&
        !isCrossSiteFetch(req.headers['sec-fetch-site'] as string | undefined);
      if (!ok) log.warn({ origin: req.headers.origin }, 'socket handshake from a foreign origin refused');
      callback(ok ? null : 'origin not allowed', ok);
    },
  });
  batchWebSocketWrites(io);
  return io;
}

/** Namespace middleware: the session cookie or `auth: { token }` must name a user. */
export function socketAuth(auth: AuthService) {
  return async (socket: { handshake: { headers: Record<string, unknown>; auth: Record<string, unknown> }; data: Partial<SocketData> }, next: (err?: Error) => void) => {
    try {
      const h = socket.handshake.headers;
      const { user, session } = await resolveUser(auth, h.cookie as string | undefined, h.authorization as string | undefined, socket.handshake.auth?.token);
      if (!user) return next(Object.assign(new Error('unauthenticated'), { data: { code: 'unauthenticated' } }));
      socket.data.user = user;
      if (session) socket.data.sessionHash = hashSecret(session);
      next();
    } catch {
      next(new Error('internal'));
    }
  };
}

/**
 * Follows an account change to the live connections: sockets whose session ended are
 * disconnected (a reconnect then fails authentication), in every namespace and on every
 * server of the cluster.
 */
export async function disconnectEndedSockets(io: Server, e: AccessEnded): Promise<void> {
  for (const nsp of io._nsps.values()) {
    for (const socket of await nsp.fetchSockets()) {
      const data = socket.data as Partial<SocketData>;
      if (data.user?.id !== e.userId) continue;
      if (e.otherSessionsThan && (!data.sessionHash || data.sessionHash === e.otherSessionsThan.sessionHash)) continue;
      socket.emit('session:ended', { reason: e.reason });
      socket.disconnect(true);
    }
  }
}
