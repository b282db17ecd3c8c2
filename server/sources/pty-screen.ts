/**
 * The server-side screens of all terminals: one worker thread (pty-screen.worker.mjs) runs a
 * headless xterm.js per terminal, so parsing a flood never blocks the main event loop.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PROJECT_ROOT } from '../platform/project-root.ts';

const SCREEN_WORKER = pathToFileURL(path.join(PROJECT_ROOT, 'server/sources/pty-screen.worker.mjs'));

export interface ScreenSnapshot {
  /** Escape sequences that redraw scrollback, screen, cursor and modes in a fresh terminal of this size. */
  data: string;
  cols: number;
  rows: number;
}

export type ScreenMessage =
  | { t: 'parsed'; id: number; bytes: number }
  | { t: 'title'; id: number; title: string }
  | { t: 'snapshot'; id: number; req: number; data: string; cols: number; rows: number }
  /** The worker thread's own memory, in bytes (answer to {t:'memory'}). */
  | { t: 'memory'; id: number; heapUsed: number; arrayBuffers: number };

export interface ScreenClient {
  onMessage(m: ScreenMessage): void;
  /** The worker died: the screen is gone. */
  onLost(): void;
}

/**
 * How long the worker stays up once no terminal is open. A worker with xterm.js loaded
 * holds about 20 MB that a console without terminals has no use for; a new terminal starts
 * it again in a few milliseconds.
 */
export const SCREEN_WORKER_IDLE_MS = 30_000;

/**
 * The one screen worker of this process (see pty-screen.worker.mjs), started with the first
 * terminal and stopped SCREEN_WORKER_IDLE_MS after the last one closed. If it dies, every
 * open screen is told and the next terminal starts a new one.
 */
export class ScreenHost {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly clients = new Map<number, ScreenClient>();
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly idleMs = SCREEN_WORKER_IDLE_MS) {}

  /** Whether the worker thread is up (it starts with the first terminal). */
  get running(): boolean {
    return this.worker !== null;
  }

  open(client: ScreenClient, size: { cols: number; rows: number; scrollback: number }): number {
    const id = ++this.nextId;
    this.clients.set(id, client);
    this.post({ t: 'open', id, ...size });
    return id;
  }

  post(m: Record<string, unknown>) {
    this.ensure().postMessage(m);
  }

  close(id: number) {
    if (!this.clients.delete(id) || !this.worker) return;
    this.worker.postMessage({ t: 'close', id });
    if (!this.clients.size) this.stopWhenIdle();
  }

  /** Called when the last screen closes; `ensure` (any new terminal) clears the timer. */
  private stopWhenIdle() {
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      const w = this.worker;
      if (!w) return; // it died meanwhile
      this.worker = null; // first, so its exit is not taken for a crash
      void w.terminate();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private ensure(): Worker {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.worker) return this.worker;
    const w = new Worker(SCREEN_WORKER);
    // Terminals are jobs with their own life cycle; an idle worker must not keep the process up.
    w.unref();
    w.on('message', (m: ScreenMessage) => this.clients.get(m.id)?.onMessage(m));
    const lost = () => {
      if (this.worker !== w) return;
      this.worker = null;
      const clients = [...this.clients.values()];
      this.clients.clear();
      for (const c of clients) c.onLost();
    };
    w.on('error', lost);
    w.on('exit', lost);
    this.worker = w;
    return w;
  }
}

/** The process-wide screen host every PTY shares. */
export const screens = new ScreenHost();
