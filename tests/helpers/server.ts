import type { AddressInfo } from 'node:net';
import { createApp } from '../../server/app.ts';
import { loadConfig, type Config } from '../../server/config.ts';
import { createLogger } from '../../server/platform/logger.ts';
import { freshDatabase } from './db.ts';

export const ADMIN_PASSWORD = 'test-admin-password';

/**
 * A real server (Express + Socket.io) on a free loopback port with its own database, or on
 * `shared` (several servers on one database; the caller drops it).
 */
export async function startTestServer(env: Record<string, string> = {}, shared?: Awaited<ReturnType<typeof freshDatabase>>) {
  const database = shared ?? (await freshDatabase());
  // TERMINAL_SHELL: bash without the machine's login scripts (vitest.config.ts sets it).
  const config: Config = loadConfig({
    NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: '/tmp/vmo-test-data', TERMINAL_SHELL: process.env.TERMINAL_SHELL, ...env,
  });
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const app = await createApp({ config, db: database.db, log, serveUi: false, databaseUrl: database.url });
  await app.auth.bootstrapAdmin(ADMIN_PASSWORD, () => {});
  await app.listen(0, '127.0.0.1');
  const { port } = app.httpServer.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    app,
    url: database.url,
    db: database.db,
    base,
    port,
    config,
    async close() {
      await app.close();
      if (!shared) await database.drop();
    },
  };
}

export type TestServer = Awaited<ReturnType<typeof startTestServer>>;

/** Logs in over HTTP and returns the session cookie header value. */
export async function login(base: string, username = 'admin', password = ADMIN_PASSWORD): Promise<string> {
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers.get('set-cookie')!;
  return cookie.split(';')[0];
}

/** A small JSON client bound to one identity (cookie or bearer token). */
export function client(base: string, auth: { cookie?: string; token?: string } = {}) {
  const headers = (extra: Record<string, string> = {}) => ({
    ...(auth.cookie ? { cookie: auth.cookie } : {}),
    ...(auth.token ? { authorization: `Bearer ${auth.token}` } : {}),
    ...extra,
  });
  const call = async (method: string, path: string, body?: unknown, extra?: Record<string, string>) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: headers(body === undefined ? extra : { 'content-type': 'application/json', ...extra }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, json, text, headers: res.headers };
  };
  return {
    get: (p: string, extra?: Record<string, string>) => call('GET', p, undefined, extra),
    post: (p: string, body: unknown = {}, extra?: Record<string, string>) => call('POST', p, body, extra),
    patch: (p: string, body: unknown, extra?: Record<string, string>) => call('PATCH', p, body, extra),
    put: (p: string, body: unknown, extra?: Record<string, string>) => call('PUT', p, body, extra),
    delete: (p: string, extra?: Record<string, string>) => call('DELETE', p, undefined, extra),
  };
}
