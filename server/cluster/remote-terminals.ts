import crypto from 'node:crypto';
import type { Namespace } from 'socket.io';
import type { User } from '../../src/lib/shared/auth.ts';
import type { Job } from '../../src/lib/shared/jobs.ts';
import type { AttachOk, TerminalSummary } from '../../src/lib/shared/terminals.ts';
import { AppError, toErrorBody } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import type { TerminalPeer } from '../terminals/terminal-session.ts';
import type { TerminalService } from '../terminals/terminal.service.ts';
import { OrderedReceiver, OrderedSender } from './ordered-stream.ts';

const IN = 'cluster:terminal-in';
const OUT = 'cluster:terminal-out';
const LIST = 'cluster:terminal-list';
const REPLY_TIMEOUT_MS = 10_000;
const EXIT_FALLBACK_MS = 2000;

type Op =
  | { op: 'attach'; jobId: string; user: User; cols?: number; rows?: number; requestId: string }
  | { op: 'input'; jobId: string; text?: string; base64?: string }
  | { op: 'resize'; jobId: string; cols: number; rows: number }
  | { op: 'ack'; jobId: string; bytes: number }
  | { op: 'take-keyboard'; jobId: string; requestId: string }
  | { op: 'detach'; jobId?: string };

type Reply = ({ ok: true } & Record<string, unknown>) | { error: { code: string; message: string } };

type Out =
  | { kind: 'reply'; requestId: string; payload: Reply }
  | { kind: 'emit'; event: string; payload: Record<string, unknown> };

interface Envelope<T> {
  from: string;
  to: string;
  /** The browser's socket id on the server that holds it. */
  peerId: string;
  seq: number;
  body: T;
}

const ackError = (err: unknown) => ({ error: toErrorBody(err).body.error });

/**
 * Terminals across servers. A tab connected to server B attaches to a terminal whose PTY runs
 * on server A: B forwards the tab's attach, keystrokes, resizes, acks and keyboard requests
 * to A, and A treats the tab as one more peer of the session, whose output, keyboard and exit
 * events travel back to B and out of the tab's socket. Flow control and keyboard ownership
 * stay where they are decided, in A's session. Each direction is an ordered stream per tab.
 */
export class RemoteTerminals {
  /** B side: for each local socket, the server of each terminal it is attached to remotely. */
  private attachedTo = new Map<string, Map<string, string>>();
  private sendersOut = new Map<string, OrderedSender>();
  private sendersIn = new Map<string, OrderedSender>();
  private receiversOut = new Map<string, OrderedReceiver<Out>>();
  private receiversIn = new Map<string, OrderedReceiver<Op>>();
  private replies = new Map<string, (payload: Out & { kind: 'reply' }) => void>();

  constructor(
    private readonly nsp: Namespace,
    private readonly self: string,
    private readonly terminals: TerminalService,
    private readonly log: Logger,
  ) {
    const on = nsp.on.bind(nsp) as (event: string, fn: (...args: never[]) => void) => void;
    on(IN, (m: Envelope<Op>) => this.receiveIn(m));
    on(OUT, (m: Envelope<Out>) => this.receiveOut(m));
    on(LIST, (m: { user: User }, reply: (list: TerminalSummary[]) => void) => {
      void this.terminals.list(m.user, { localOnly: true }).then(reply, () => reply([]));
    });
  }

  /**
   * A job ended (on any server). Tabs here attached to it elsewhere get their exit even when
   * its server died and a survivor ended it, so no tab waits on a terminal that is gone.
   */
  jobEnded(done: { jobId: string; status: string; exitCode: number | null }): void {
    // Normally the terminal's own server sends the exit after the last output, on the tab's
    // stream; this is the fallback for a server that died, so it waits for that first.
    setTimeout(() => {
      for (const [peerId, jobs] of this.attachedTo) {
        if (!jobs.delete(done.jobId)) continue;
        this.nsp.sockets.get(peerId)?.emit('exit', { jobId: done.jobId, exitCode: done.exitCode, status: done.status });
      }
    }, EXIT_FALLBACK_MS).unref();
  }

  /** Whether a terminal job runs on another live server (and so is reached through it). */
  runsElsewhere(job: Job): boolean {
    return (job.status === 'running' || job.status === 'queued') && job.serverId !== null && job.serverId !== this.self;
  }

  /** Whether `peerId` (a local socket) is attached to `jobId` on another server. */
  forwards(peerId: string, jobId: string): boolean {
    return this.attachedTo.get(peerId)?.has(jobId) ?? false;
  }

  // ------------------------------------------------------------------ B: the tab's server

  /**
   * Attaches local socket `peerId` to a terminal on its server. `onOk` runs as soon as the
   * answer arrives, before any output that follows it is handed to the socket, so the tab
   * gets its attach ack first, as with a local terminal.
   */
  attach(user: User, peerId: string, job: Job, size: { cols?: number; rows?: number }, onOk: (res: Omit<AttachOk, 'job'>) => void): Promise<void> {
    const server = job.serverId!;
    const requestId = crypto.randomUUID();
    let jobs = this.attachedTo.get(peerId);
    if (!jobs) this.attachedTo.set(peerId, (jobs = new Map()));
    jobs.set(job.id, server);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(requestId);
        jobs.delete(job.id);
        reject(new AppError(504, 'timeout', 'The server running this terminal did not answer'));
      }, REPLY_TIMEOUT_MS);
      this.replies.set(requestId, ({ payload }) => {
        clearTimeout(timer);
        if (!('ok' in payload)) {
          const { error } = payload as { error: { code: string; message: string } };
          jobs.delete(job.id);
          reject(new AppError(toStatus(error.code), error.code, error.message));
          return;
        }
        const { ok: _, job: __, ...res } = payload as { ok: true; job?: unknown } & Omit<AttachOk, 'job'>;
        onOk(res);
        resolve();
      });
      this.sendIn(server, peerId, { op: 'attach', jobId: job.id, user, ...size, requestId });
    });
  }

  input(peerId: string, jobId: string, data: string | Buffer): void {
    this.forward(peerId, jobId, typeof data === 'string' ? { op: 'input', jobId, text: data } : { op: 'input', jobId, base64: data.toString('base64') });
  }

  resize(peerId: string, jobId: string, cols: number, rows: number): void {
    this.forward(peerId, jobId, { op: 'resize', jobId, cols, rows });
  }

  ack(peerId: string, jobId: string, bytes: number): void {
    this.forward(peerId, jobId, { op: 'ack', jobId, bytes });
  }

  async takeKeyboard(peerId: string, jobId: string): Promise<boolean> {
    const server = this.attachedTo.get(peerId)?.get(jobId);
    if (!server) return false;
    const requestId = crypto.randomUUID();
    const answer = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.replies.delete(requestId);
        resolve(false);
      }, REPLY_TIMEOUT_MS);
      this.replies.set(requestId, (r) => {
        clearTimeout(timer);
        resolve('ok' in r.payload);
      });
    });
    this.sendIn(server, peerId, { op: 'take-keyboard', jobId, requestId });
    return answer;
  }

  /** The tab left one terminal, or (no jobId) its socket is gone. */
  detach(peerId: string, jobId?: string): void {
    const jobs = this.attachedTo.get(peerId);
    if (!jobs) return;
    const servers = new Set(jobId ? [jobs.get(jobId)].filter(Boolean) as string[] : jobs.values());
    for (const server of servers) this.sendIn(server, peerId, { op: 'detach', jobId });
    if (jobId) jobs.delete(jobId);
    if (!jobId || !jobs.size) {
      this.attachedTo.delete(peerId);
      for (const server of servers) {
        this.sendersIn.delete(`${server}|${peerId}`);
        this.receiversOut.delete(`${server}|${peerId}`);
      }
    }
  }

  /** Terminals `user` may see that run on the other servers. */
  listElsewhere(user: User): Promise<TerminalSummary[]> {
    return new Promise((resolve) => {
      const emit = this.nsp.serverSideEmit as (ev: string, ...args: unknown[]) => boolean;
      emit.call(this.nsp, LIST, { user }, (_err: Error | null, lists: TerminalSummary[][] = []) => resolve(lists.flat()));
    });
  }

  private forward(peerId: string, jobId: string, op: Op): void {
    const server = this.attachedTo.get(peerId)?.get(jobId);
    if (server) this.sendIn(server, peerId, op);
  }

  private sendIn(server: string, peerId: string, body: Op): void {
    const key = `${server}|${peerId}`;
    let sender = this.sendersIn.get(key);
    if (!sender) this.sendersIn.set(key, (sender = new OrderedSender()));
    this.emit(IN, { from: this.self, to: server, peerId, seq: sender.take(), body });
  }

  private receiveOut(m: Envelope<Out>): void {
    if (m?.to !== this.self) return;
    const key = `${m.from}|${m.peerId}`;
    let receiver = this.receiversOut.get(key);
    if (!receiver) {
      receiver = new OrderedReceiver<Out>((body) => this.deliverOut(m.peerId, body));
      this.receiversOut.set(key, receiver);
    }
    receiver.receive(m.seq, m.body);
  }

  private deliverOut(peerId: string, body: Out): void {
    if (body.kind === 'reply') {
      const done = this.replies.get(body.requestId);
      this.replies.delete(body.requestId);
      done?.(body);
      return;
    }
    const payload = { ...body.payload };
    if (typeof payload.data === 'string' && body.event === 'output') payload.data = Buffer.from(payload.data, 'base64');
    const jobId = String(payload.jobId);
    if (body.event === 'exit' || body.event === 'revoked') {
      // Already told (jobEnded) or no longer attached: once is enough.
      if (!this.attachedTo.get(peerId)?.delete(jobId)) return;
    }
    const socket = this.nsp.sockets.get(peerId);
    (socket?.emit as ((ev: string, p: unknown) => boolean) | undefined)?.call(socket, body.event, payload);
  }

  // ------------------------------------------------------------------ A: the terminal's server

  private receiveIn(m: Envelope<Op>): void {
    if (m?.to !== this.self) return;
    const key = `${m.from}|${m.peerId}`;
    let receiver = this.receiversIn.get(key);
    if (!receiver) {
      receiver = new OrderedReceiver<Op>((body) => this.apply(m.from, m.peerId, body));
      this.receiversIn.set(key, receiver);
    }
    receiver.receive(m.seq, m.body);
  }

  private apply(from: string, peerId: string, op: Op): void {
    const peer = this.remotePeer(from, peerId);
    switch (op.op) {
      case 'attach':
        this.terminals
          .attach(op.user, peer, { jobId: op.jobId, cols: op.cols, rows: op.rows }, (res) => this.sendOut(from, peerId, { kind: 'reply', requestId: op.requestId, payload: { ok: true, ...res } }))
          .catch((err) => this.sendOut(from, peerId, { kind: 'reply', requestId: op.requestId, payload: ackError(err) }));
        break;
      case 'input':
        this.terminals.input(peer.id, op.jobId, op.text ?? Buffer.from(op.base64 ?? '', 'base64'));
        break;
      case 'resize':
        this.terminals.resize(peer.id, op.jobId, op.cols, op.rows);
        break;
      case 'ack':
        this.terminals.ack(peer.id, op.jobId, op.bytes);
        break;
      case 'take-keyboard': {
        const ok = this.terminals.takeKeyboard(peer.id, op.jobId);
        this.sendOut(from, peerId, {
          kind: 'reply', requestId: op.requestId,
          payload: ok === true ? { ok: true } : { error: { code: 'not_found', message: 'Not attached to this terminal (attach first)' } },
        });
        break;
      }
      case 'detach':
        this.terminals.detach(peer.id, op.jobId);
        if (!op.jobId) {
          this.receiversIn.delete(`${from}|${peerId}`);
          this.sendersOut.delete(`${from}|${peerId}`);
        }
        break;
    }
  }

  /** The tab as a peer of a session here: what the session emits to it goes back to its server. */
  private remotePeer(from: string, peerId: string): TerminalPeer {
    return {
      id: `remote:${from}:${peerId}`,
      emit: (event, ...args) => {
        const payload = { ...(args[0] as Record<string, unknown>) };
        if (event === 'output') payload.data = Buffer.from(payload.data as Uint8Array).toString('base64');
        this.sendOut(from, peerId, { kind: 'emit', event, payload });
        return true;
      },
    };
  }

  private sendOut(server: string, peerId: string, body: Out): void {
    const key = `${server}|${peerId}`;
    let sender = this.sendersOut.get(key);
    if (!sender) this.sendersOut.set(key, (sender = new OrderedSender()));
    this.emit(OUT, { from: this.self, to: server, peerId, seq: sender.take(), body });
  }

  private emit(event: string, message: Envelope<unknown>): void {
    try {
      (this.nsp.serverSideEmit as (ev: string, ...args: unknown[]) => boolean).call(this.nsp, event, message);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not reach another server about a terminal');
    }
  }
}

function toStatus(code: string): number {
  return ({ not_found: 404, forbidden: 403, conflict: 409, validation_failed: 400, unauthenticated: 401 } as Record<string, number>)[code] ?? 502;
}
