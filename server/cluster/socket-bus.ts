import { createAdapter } from '@socket.io/postgres-adapter';
import pg from 'pg';
import type { Logger } from '../platform/logger.ts';

/**
 * Socket.io's Postgres adapter on a pool of its own: one connection LISTENs, one sends.
 * With a single sender, messages leave in the order they were emitted. A lost connection
 * is reported, not thrown: the adapter reconnects by itself.
 */
export function createSocketBus(databaseUrl: string, log: Logger) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  pool.on('error', (err) => log.warn({ err: err.message }, 'socket bus connection lost'));
  pool.on('connect', (client) => client.on('error', (err) => log.warn({ err: err.message }, 'socket bus connection error')));
  const adapter = createAdapter(pool, {
    errorHandler: (err: Error) => log.warn({ err: err.message }, 'socket bus error'),
  });
  return {
    adapter,
    // A reconnect of the listening connection can be in flight when the database goes away
    // (shutdown stops it too); such a connection is never handed back, so do not wait for it.
    close: () => Promise.race([pool.end().catch(() => {}), new Promise<void>((r) => setTimeout(r, 500).unref())]),
  };
}
