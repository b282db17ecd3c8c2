import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import type { Job, JobEvent } from '../../src/lib/shared/jobs.ts';
import type { client as makeClient } from './server.ts';

type Client = ReturnType<typeof makeClient>;

export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');

/** Writes an mkcli registry naming the given alias → dir pairs, for a server under test. */
export function writeRegistry(entries: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-registry-'));
  const file = path.join(dir, 'registry');
  fs.writeFileSync(file, Object.entries(entries).map(([a, d]) => `${a}=${d}`).join('\n') + '\n');
  return file;
}

export async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, ms = 20_000, what = 'condition'): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitDone(c: Client, id: string, ms = 30_000): Promise<Job> {
  return waitFor(async () => {
    const r = await c.get(`/api/jobs/${id}`);
    return ['success', 'failed', 'canceled', 'interrupted'].includes(r.json.status) ? (r.json as Job) : null;
  }, ms, `job ${id} to finish`);
}

export async function allEvents(c: Client, id: string, encoding: 'utf8' | 'base64' = 'utf8'): Promise<JobEvent[]> {
  const out: JobEvent[] = [];
  for (;;) {
    const r = await c.get(`/api/jobs/${id}/events?after=${out.length ? out[out.length - 1].seq : 0}&limit=1000&encoding=${encoding}`);
    out.push(...r.json.events);
    if (!r.json.events.length) return out;
  }
}

export async function rawLog(base: string, cookie: string, id: string): Promise<Buffer> {
  const res = await fetch(`${base}/api/jobs/${id}/log`, { headers: { cookie } });
  return Buffer.from(await res.arrayBuffer());
}

export function jobsSocket(base: string, cookie: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(`${base}/jobs`, {
      transports: ['websocket'], extraHeaders: { cookie }, reconnection: false,
      // One connection per call: a shared one would keep the cookie of whichever socket came first.
      forceNew: true,
    });
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}
