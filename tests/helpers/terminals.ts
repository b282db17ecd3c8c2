/** Test helpers for /terminals: a socket that attaches and acks like a browser tab. */
import { io as connect, type Socket } from 'socket.io-client';
import { expect } from 'vitest';
import { waitFor } from './jobs.ts';
import type { client } from './server.ts';

export type Client = ReturnType<typeof client>;

export function terminalsSocket(base: string, cookie: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(`${base}/terminals`, {
      transports: ['websocket'], extraHeaders: { cookie }, reconnection: false,
      // One connection per call: a shared one would keep the cookie of whichever socket came first.
      forceNew: true,
    });
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

/** One socket attached to one terminal, acking output the way the browser does (every 5,000 bytes). */
export class Tab {
  chunks: Buffer[] = [];
  received = 0;
  pendingAck = 0;
  acking = true;
  keyboard: boolean | null = null;
  exit: { exitCode: number | null; status: string } | null = null;
  lagging = false;
  revoked: string | null = null;
  resizes: Array<{ cols: number; rows: number }> = [];

  constructor(readonly socket: Socket, readonly jobId: string) {
    socket.on('output', (m: { jobId: string; data: Buffer }) => {
      if (m.jobId !== jobId) return;
      const b = Buffer.from(m.data);
      this.chunks.push(b);
      this.received += b.length;
      this.pendingAck += b.length;
      if (this.acking && this.pendingAck >= 5000) {
        socket.emit('ack', { jobId, bytes: this.pendingAck });
        this.pendingAck = 0;
      }
    });
    socket.on('keyboard', (m: { jobId: string; owner: boolean }) => {
      if (m.jobId === jobId) this.keyboard = m.owner;
    });
    socket.on('exit', (m: { jobId: string; exitCode: number | null; status: string }) => {
      if (m.jobId === jobId) this.exit = m;
    });
    socket.on('lagging', (m: { jobId: string }) => {
      if (m.jobId === jobId) this.lagging = true;
    });
    socket.on('revoked', (m: { jobId: string; reason: string }) => {
      if (m.jobId === jobId) this.revoked = m.reason;
    });
    socket.on('resize', (m: { jobId: string; cols: number; rows: number }) => {
      if (m.jobId === jobId) this.resizes.push({ cols: m.cols, rows: m.rows });
    });
  }

  static async open(base: string, cookie: string, jobId: string, size = { cols: 80, rows: 24 }) {
    const tab = new Tab(await terminalsSocket(base, cookie), jobId);
    const ack = await tab.attach(size);
    return { tab, ack };
  }

  async attach(size = { cols: 80, rows: 24 }) {
    const ack = await this.socket.timeout(10_000).emitWithAck('attach', { jobId: this.jobId, ...size });
    if (ack.ok) this.keyboard = ack.keyboard;
    return ack;
  }

  text(from = 0) {
    return Buffer.concat(this.chunks).toString('utf8').slice(from);
  }

  get length() {
    return this.text().length;
  }

  type(data: string) {
    this.socket.emit('input', { jobId: this.jobId, data });
  }

  /** Waits for `re` in the output after character offset `from`. */
  async see(re: RegExp, from = 0, ms = 15_000): Promise<RegExpExecArray> {
    return waitFor(async () => re.exec(this.text(from)), ms, `${re} in terminal output`);
  }

  close() {
    this.socket.close();
  }
}

export const newTerminal = async (c: Client, body: Record<string, unknown> = {}) => {
  const r = await c.post('/api/jobs', { type: 'terminal', cols: 80, rows: 24, ...body });
  expect(r.status, r.text).toBe(201);
  return r.json as { id: string; command: string; status: string; type: string };
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
