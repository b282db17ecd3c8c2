import { createAdapter } from '@socket.io/postgres-adapter';
import pg from 'pg';
import type { Server } from 'socket.io';
import type { Logger } from '../platform/logger.ts';

/**
 * How long after its start a server may not know the others yet. The adapter of each
 * namespace says hello (its initial heartbeat, which the others answer) when the namespace
 * is created, before its LISTEN connection is up, so the answers can be missed; it then
 * counts itself alone until their next heartbeat (up to 5 s), and what relies on that
 * count leaves them out: fetchSockets across servers, server-side emits that wait for
 * answers, job announcements. So for this long it says hello again every second.
 */
export const STARTUP_DISCOVERY_MS = 15_000;
const HELLO_EVERY_MS = 1000;

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
  let hello: NodeJS.Timeout | undefined;
  let until = 0;
  return {
    adapter,
    /** Starts saying hello again on every namespace of `io` (see STARTUP_DISCOVERY_MS). */
    introduce(io: Server) {
      until = Date.now() + STARTUP_DISCOVERY_MS;
      hello = setInterval(() => {
        if (Date.now() >= until) return clearInterval(hello);
        for (const nsp of io._nsps.values()) (nsp.adapter as unknown as { init(): void }).init();
      }, HELLO_EVERY_MS);
      hello.unref();
    },
    /** Within the window after `introduce` in which the other servers may not be counted yet. */
    discovering: () => Date.now() < until,
    // A reconnect of the listening connection can be in flight when the database goes away
    // (shutdown stops it too); such a connection is never handed back, so do not wait for it.
    close: () => {
      clearInterval(hello);
      return Promise.race([pool.end().catch(() => {}), new Promise<void>((r) => setTimeout(r, 500).unref())]);
    },
  };
}
