import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';

function tryConnect(url: string, opts: Parameters<typeof connect>[1]): Promise<{ ok: boolean; error?: string; socket: Socket }> {
  return new Promise((resolve) => {
    const socket = connect(url, { reconnection: false, timeout: 5000, ...opts });
    socket.on('connect', () => resolve({ ok: true, socket }));
    socket.on('connect_error', (err) => resolve({ ok: false, error: err.message, socket }));
  });
}

describe('Socket.io authentication and origin checks', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
    // The namespace exists only when a feature registers it; register a bare one for the handshake test.
  });
  afterAll(() => s.close());

  it('refuses a connection without credentials', async () => {
    const r = await tryConnect(`${s.base}/jobs`, { transports: ['websocket'] });
    r.socket.close();
    expect(r.ok).toBe(false);
    expect(r.error).toBe('unauthenticated');
  });

  it('accepts the session cookie and an API token', async () => {
    const cookie = await login(s.base);
    const byCookie = await tryConnect(`${s.base}/jobs`, { transports: ['websocket'], extraHeaders: { cookie } });
    byCookie.socket.close();
    expect(byCookie.ok).toBe(true);
    const { json } = await client(s.base, { cookie }).post('/api/tokens', { name: 'sock' });
    const byToken = await tryConnect(`${s.base}/jobs`, { transports: ['websocket'], auth: { token: json.token } });
    byToken.socket.close();
    expect(byToken.ok).toBe(true);
  });

  it('refuses a WebSocket handshake from a foreign Origin even with a valid cookie', async () => {
    const cookie = await login(s.base);
    for (const transports of [['websocket'], ['polling']] as const) {
      const r = await tryConnect(`${s.base}/jobs`, {
        transports: [...transports],
        extraHeaders: { cookie, origin: 'http://evil.example' },
      });
      r.socket.close();
      expect(r.ok, transports[0]).toBe(false);
    }
    const own = await tryConnect(`${s.base}/jobs`, { transports: ['websocket'], extraHeaders: { cookie, origin: s.base } });
    own.socket.close();
    expect(own.ok).toBe(true);
  });
});
