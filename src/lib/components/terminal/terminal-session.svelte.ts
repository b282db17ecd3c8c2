import type { Terminal } from '@xterm/xterm';
import type { Socket } from 'socket.io-client';
import { getSocket, reconnectNow } from '$lib/realtime/socket';
import type { Job } from '$lib/shared/jobs';
import {
  FLOW_ACK_EVERY, type AttachOk, type TerminalExit, type TerminalsClientToServer, type TerminalsServerToClient,
} from '$lib/shared/terminals';

export type TerminalsSocket = Socket<TerminalsServerToClient, TerminalsClientToServer>;
export type SessionPhase = 'connecting' | 'attached' | 'reconnecting' | 'ended' | 'error';

const NAMESPACE = '/terminals';

/**
 * One browser tab's connection to a running terminal: attaches over the shared /terminals
 * socket, writes output into the xterm.js instance and acknowledges it after xterm has
 * parsed it (so the server holds the PTY while this tab is behind), and sends keystrokes
 * and resizes while this tab has the keyboard. After a reconnect, or when the server
 * says this tab lagged, it attaches again and the server redraws the screen.
 */
export class TerminalSession {
  phase = $state<SessionPhase>('connecting');
  /** The terminal had ended before this tab ever showed its screen: there is nothing live to show, only the recording. */
  endedUnseen = $state(false);
  #everAttached = false;
  keyboard = $state(false);
  title = $state('');
  job = $state<Job | null>(null);
  exit = $state<TerminalExit | null>(null);
  error = $state<string | null>(null);
  /** The PTY's size (the keyboard owner's window). */
  cols = $state(80);
  rows = $state(24);

  #socket: TerminalsSocket;
  #term: Terminal | null = null;
  /** Between sending attach and its ack, output belongs to the previous attachment and is dropped. */
  #attaching = false;
  /** The next output is the screen snapshot; fit the window to it once it is drawn. */
  #fitAfterSnapshot = false;
  #unacked = 0;
  #disposers: Array<() => void> = [];
  #destroyed = false;

  constructor(readonly jobId: string) {
    this.#socket = getSocket<TerminalsServerToClient, TerminalsClientToServer>(NAMESPACE);
  }

  /** Binds to a terminal and attaches; `size` gives the size this tab would like (its fitted window). */
  start(term: Terminal, size: () => { cols: number; rows: number } | null) {
    this.#term = term;
    this.#size = size;
    const s = this.#socket;
    const on = <E extends keyof TerminalsServerToClient>(event: E, fn: TerminalsServerToClient[E]) => {
      s.on(event, fn as never);
      this.#disposers.push(() => s.off(event, fn as never));
    };
    on('output', (m) => {
      if (m.jobId !== this.jobId || this.#attaching || this.phase !== 'attached') return;
      const data = m.data instanceof Uint8Array ? m.data : new Uint8Array(m.data);
      const refit = this.#fitAfterSnapshot;
      this.#fitAfterSnapshot = false;
      // Ack after xterm has parsed it: that is what "caught up" means for the server.
      term.write(data, () => {
        this.#ack(data.length);
        // The snapshot is drawn at the PTY's size; only then may the owner's window size apply.
        if (refit) this.fitAndSend();
      });
    });
    on('resize', (m) => {
      if (m.jobId !== this.jobId) return;
      this.cols = m.cols;
      this.rows = m.rows;
      // The owner's own size; other tabs follow it, in order with the output around it.
      if (!this.keyboard) term.write('', () => term.resize(m.cols, m.rows));
    });
    on('keyboard', (m) => {
      if (m.jobId !== this.jobId) return;
      this.keyboard = m.owner;
      if (m.owner) this.fitAndSend();
    });
    on('lagging', (m) => {
      if (m.jobId === this.jobId) this.#attach();
    });
    on('revoked', (m) => {
      if (m.jobId !== this.jobId) return;
      this.phase = 'error';
      this.error = m.reason;
      this.keyboard = false;
    });
    on('exit', (m) => {
      if (m.jobId !== this.jobId) return;
      this.exit = m;
      this.phase = 'ended';
      this.keyboard = false;
    });
    const onConnect = () => {
      if (this.phase !== 'ended') this.#attach();
    };
    const onDisconnect = () => {
      if (this.phase === 'attached' || this.phase === 'connecting') this.phase = 'reconnecting';
    };
    s.on('connect', onConnect);
    s.on('disconnect', onDisconnect);
    this.#disposers.push(() => s.off('connect', onConnect), () => s.off('disconnect', onDisconnect));

    const input = term.onData((data) => this.#input(data));
    // Some key combinations arrive as raw bytes (latin-1 code units), not text.
    const binary = term.onBinary((data) => this.#input(Uint8Array.from(data, (ch) => ch.charCodeAt(0) & 0xff)));
    const title = term.onTitleChange((t) => (this.title = t));
    this.#disposers.push(() => input.dispose(), () => binary.dispose(), () => title.dispose());

    document.addEventListener('visibilitychange', this.#onVisible);
    this.#disposers.push(() => document.removeEventListener('visibilitychange', this.#onVisible));

    if (s.connected) this.#attach();
    else s.connect();
  }

  #size: () => { cols: number; rows: number } | null = () => null;

  /** The window changed size: the keyboard owner resizes the PTY to it. */
  fitAndSend() {
    if (!this.keyboard || this.phase !== 'attached' || this.#attaching) return;
    const size = this.#size();
    if (!size || !this.#term) return;
    if (size.cols !== this.#term.cols || size.rows !== this.#term.rows) this.#term.resize(size.cols, size.rows);
    if (size.cols !== this.cols || size.rows !== this.rows) {
      this.cols = size.cols;
      this.rows = size.rows;
      this.#socket.emit('resize', { jobId: this.jobId, ...size });
    }
  }

  async takeKeyboard() {
    try {
      const res = await this.#socket.timeout(5000).emitWithAck('take-keyboard', { jobId: this.jobId });
      if ('error' in res) throw new Error(res.error.message);
      this.keyboard = true;
      this.fitAndSend();
      this.#term?.focus();
    } catch (err) {
      this.error = (err as Error).message;
    }
  }

  destroy() {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (this.phase !== 'ended' && this.#socket.connected) this.#socket.emit('detach', { jobId: this.jobId });
    for (const d of this.#disposers) d();
    this.#disposers = [];
    this.#term = null;
  }

  #onVisible = () => {
    if (document.visibilityState === 'visible') reconnectNow(NAMESPACE);
  };

  #input(data: string | Uint8Array) {
    if (!this.keyboard || this.phase !== 'attached') return;
    this.#socket.emit('input', { jobId: this.jobId, data });
  }

  #ack(bytes: number) {
    this.#unacked += bytes;
    if (this.#unacked >= FLOW_ACK_EVERY) {
      this.#socket.emit('ack', { jobId: this.jobId, bytes: this.#unacked });
      this.#unacked = 0;
    }
  }

  #attach() {
    const term = this.#term;
    if (!term || this.#destroyed) return;
    this.#attaching = true;
    const want = this.#size() ?? { cols: term.cols, rows: term.rows };
    // The callback form runs while the ack packet is handled, before the snapshot that follows it.
    this.#socket.timeout(15_000).emit('attach', { jobId: this.jobId, ...want }, (err, res) => {
      if (this.#destroyed) return;
      this.#attaching = false;
      if (err) {
        this.phase = 'reconnecting';
        setTimeout(() => this.#socket.connected && this.phase !== 'ended' && this.#attach(), 1000);
        return;
      }
      if ('error' in res) {
        this.phase = 'error';
        this.error = res.error.message;
        return;
      }
      this.#attached(term, res);
    });
  }

  #attached(term: Terminal, res: AttachOk) {
    this.job = res.job;
    this.keyboard = res.keyboard;
    this.cols = res.cols;
    this.rows = res.rows;
    this.title = res.title;
    this.error = null;
    this.#unacked = 0;
    if (res.ended) {
      this.phase = 'ended';
      this.exit ??= { jobId: res.job.id, exitCode: res.job.exitCode, status: res.job.status };
      if (!this.#everAttached) this.endedUnseen = true;
      return;
    }
    this.phase = 'attached';
    this.#everAttached = true;
    // Output still queued in xterm from an earlier attachment is parsed first, then a full
    // reset, then the snapshot drawn at the PTY's size.
    term.write('\x1bc', () => term.resize(res.cols, res.rows));
    this.#fitAfterSnapshot = res.keyboard;
  }
}
