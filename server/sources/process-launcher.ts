import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../platform/logger.ts';
import { PROJECT_ROOT } from '../platform/project-root.ts';
import type { PipeSupply } from './pipe-supply.ts';
import type { LaunchedProcess, ProcessEnd } from './process.source.ts';

const HELPER = path.join(PROJECT_ROOT, 'server/sources/process-launcher.child.mjs');

type Reply =
  | { id: number; type: 'started'; pid: number }
  | { id: number; type: 'exit'; code: number | null; signal: NodeJS.Signals | null }
  | { id: number; type: 'error'; message: string; code?: string };

interface Request {
  onStart(reply: Reply | null): void;
  onEnd(end: ProcessEnd): void;
  started: boolean;
}

/**
 * Starts job processes from a small helper process instead of from the server.
 *
 * Node starts a child with fork(), which copies the page tables of the whole server and
 * holds its event loop until the child has exec'd: 10-25 ms per job here, and with 50 jobs
 * started at once, more than a second in which no output reached any viewer. Forking from
 * a worker thread does not help: fork() stalls every thread of the process it copies. The
 * helper is a plain Node process that only starts processes and reports their exits; the
 * server still reads their output itself, from FIFOs that the helper opens as the new
 * process's stdout and stderr (see PipeSupply), so no output passes through it.
 *
 * When the helper dies, the processes it started can no longer be waited for: their jobs
 * are told so and stopped (ProcessEnd `lost`), and the next job starts a new helper.
 */
export class ProcessLauncher {
  private helper: ChildProcess | null = null;
  private nextId = 0;
  private readonly requests = new Map<number, Request>();

  constructor(
    readonly pipes: PipeSupply,
    private readonly log: Logger,
    private readonly helperPath = HELPER,
  ) {}

  /**
   * Starts the helper and makes the first FIFOs ahead of the first job, which would
   * otherwise wait for both (about 60 ms for the helper's start alone).
   */
  prepare(): void {
    this.pipes.prepare();
    try {
      this.ensureHelper();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'process helper did not start; jobs will start it');
    }
  }

  /** The helper's pid while it runs (for operators and tests). */
  get helperPid(): number | undefined {
    return this.helper?.pid;
  }

  /**
   * Starts argv with real pipes for stdout and stderr. Null when FIFOs cannot be made here
   * or the helper cannot be reached: the caller starts the process itself.
   */
  async launch(argv: string[], opts: { cwd: string; env: Record<string, string> }): Promise<LaunchedProcess | null> {
    const fifos = await this.pipes.takeFifoPair();
    if (!fifos) return null;
    const [out, err] = fifos;
    const id = ++this.nextId;
    let onStart!: (reply: Reply | null) => void;
    let onEnd!: (end: ProcessEnd) => void;
    const startReply = new Promise<Reply | null>((resolve) => (onStart = resolve));
    const end = new Promise<ProcessEnd>((resolve) => (onEnd = resolve));
    this.requests.set(id, { onStart, onEnd, started: false });
    const sent = this.send({ id, argv, cwd: opts.cwd, env: opts.env, stdout: out.path, stderr: err.path });
    this.holdOpen();
    const reply = sent ? await startReply : null;
    if (!reply) {
      // The helper could not be started: start the process in the server instead.
      this.forget(id);
      for (const fifo of fifos) this.pipes.release(fifo);
      return null;
    }
    // The helper has opened them (or given up): the names have served their purpose.
    for (const fifo of fifos) fs.rmSync(fifo.path, { force: true });
    const [stdout, stderr] = fifos.map((fifo) => new net.Socket({ fd: fifo.read, readable: true, writable: false }));
    if (reply.type === 'error') {
      this.forget(id);
      return { pid: undefined, stdout, stderr, end: Promise.resolve({ error: Object.assign(new Error(reply.message), { code: reply.code }) }) };
    }
    return { pid: (reply as { pid: number }).pid, stdout, stderr, end };
  }

  /** Stops the helper. Processes it started keep running; stop their jobs first. */
  close(): void {
    if (this.helper?.connected) this.helper.disconnect();
    this.helper = null;
  }

  private send(message: object): boolean {
    try {
      this.ensureHelper().send(message);
      return true;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'process helper unreachable; starting the job process in the server');
      return false;
    }
  }

  private ensureHelper(): ChildProcess {
    if (this.helper?.connected) return this.helper;
    const helper = fork(this.helperPath, [], {
      cwd: '/',
      // Plain Node: none of the server's flags or loaders, and no environment to pass on
      // (every request carries the job's own).
      execArgv: [],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    // What it prints only matters when it fails (a crash's stack trace): kept for the log.
    let stderr = '';
    helper.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    // Ready: it is listening, so any request sent since may have been acted on.
    let ready = false;
    helper.on('message', (reply: Reply | { type: 'ready' }) => {
      if (reply.type === 'ready') ready = true;
      else this.onReply(reply);
    });
    helper.once('error', (err) => this.log.warn({ err: err.message }, 'process helper failed'));
    // 'close', not 'exit': replies it sent before it died are read first.
    helper.once('close', (code, signal) => {
      if (this.helper === helper) this.helper = null;
      if (code || signal || this.requests.size) {
        this.log.warn({ code, signal, processes: this.requests.size, stderr: stderr.trim() || undefined }, 'process helper stopped');
      }
      for (const [id, req] of this.requests) {
        this.requests.delete(id);
        if (req.started) req.onEnd({ lost: 'the helper process that started it stopped' });
        // A helper that never got going cannot have started it: the server will. One that
        // did might have, just before dying; starting it again could run a target twice.
        else req.onStart(ready ? { id, type: 'error', message: 'the process helper stopped before it answered' } : null);
      }
    });
    // Jobs keep the server busy while they run; the helper alone must not keep it alive.
    helper.unref();
    (helper.stderr as net.Socket).unref();
    this.helper = helper;
    this.holdOpen();
    return helper;
  }

  private forget(id: number) {
    this.requests.delete(id);
    this.holdOpen();
  }

  /** A process being started or run keeps the server's event loop alive; an idle helper does not. */
  private holdOpen() {
    const channel = this.helper?.channel as { ref(): void; unref(): void } | null | undefined;
    if (this.requests.size) channel?.ref();
    else channel?.unref();
  }

  private onReply(reply: Reply) {
    const req = this.requests.get(reply.id);
    if (!req) return;
    if (reply.type === 'started') {
      req.started = true;
      req.onStart(reply);
    } else if (reply.type === 'exit') {
      this.forget(reply.id);
      req.onEnd({ exitCode: reply.code, signal: reply.signal });
    } else if (!req.started) {
      req.onStart(reply);
    }
  }
}
