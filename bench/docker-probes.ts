import { spawn } from 'node:child_process';
import net from 'node:net';
import readline from 'node:readline';
import type Docker from 'dockerode';
import { sleep } from './lib.ts';

/**
 * What the VM benchmark measures with: the SSH banner on a published port (a TCP connect is
 * not readiness: docker-proxy accepts before sshd listens), dockerd's own event clock, and
 * the docker CLI run without a shell.
 */

/** One connection to the published port: the `SSH-2.0-` line, or null (refused, closed, silent). */
export function probeBanner(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    const finish = (banner: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(banner);
    };
    const timer = setTimeout(() => finish(null), 3000);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const line = received.split('\n').slice(0, -1).find((l) => l.startsWith('SSH-2.0-'));
      if (line) finish(line.replace(/\r$/, ''));
      else if (received.length > 8192) finish(null);
    });
    socket.on('error', () => finish(null));
    socket.on('close', () => finish(null));
  });
}

export async function waitForBanner(port: number, probeMs: number, timeoutMs = 60_000): Promise<{ banner: string; probes: number }> {
  const deadline = Date.now() + timeoutMs;
  for (let probes = 1; ; probes++) {
    const banner = await probeBanner(port);
    if (banner) return { banner, probes };
    if (Date.now() > deadline) throw new Error(`no SSH banner on 127.0.0.1:${port} within ${timeoutMs} ms (${probes} probes)`);
    await sleep(probeMs);
  }
}

export interface EngineEvent {
  id: string;
  action: string;
  at: number;
  attrs: Record<string, string>;
}

/** dockerd's container events (create, start, exec_create …) with their own timestamps. */
export async function engineEvents(docker: Docker) {
  const stream = (await docker.getEvents({ filters: { type: ['container'] } })) as NodeJS.ReadableStream & { destroy(): void };
  const events: EngineEvent[] = [];
  readline.createInterface({ input: stream }).on('line', (line) => {
    try {
      const e = JSON.parse(line);
      events.push({ id: e.id ?? e.Actor?.ID, action: String(e.Action ?? e.status).split(':')[0], at: e.timeNano / 1e6, attrs: e.Actor?.Attributes ?? {} });
    } catch {
      // a partial line cannot happen with readline; anything else is not an event
    }
  });
  /** First `action` of the container matching `match`, at or after `after`. */
  const first = (match: (e: EngineEvent) => boolean, action: string, after = 0) =>
    events.find((e) => e.action === action && e.at >= after && match(e))?.at ?? NaN;
  return { events, first, close: () => stream.destroy() };
}

/** Runs argv (no shell) and resolves with its stdout; rejects with its stderr on a non-zero exit. */
export function run(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.join(' ')} exited ${code}: ${err.trim()}`))));
  });
}

