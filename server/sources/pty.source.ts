import fs from 'node:fs';
import os from 'node:os';
import pty, { type IPty } from 'node-pty';
import type { JobEventSink } from '../events/job-event-sink.ts';
import { processStartTime } from './process-group.ts';
import { holdSlave, processRunning, signalSession, sessionPids } from './pty-session.ts';
import { ScreenedTerminal, type TerminalExit } from './screened-terminal.ts';

/** After the process exits, output counts as complete once the PTY has been quiet this long. */
const EXIT_QUIET_MS = 60;
/** …but never wait longer than this for it (a background child may keep the PTY open). */
const EXIT_DRAIN_MAX_MS = 2000;
/** While paused, how often to look whether the process exited (so its last output is read in time). */
const PAUSED_EXIT_POLL_MS = 40;

export interface PtyOptions {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  cols: number;
  rows: number;
  sink: JobEventSink;
  /** Lines of scrollback kept for re-attaching browsers. */
  scrollback?: number;
}

export type PtyExit = TerminalExit;

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(os.constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/**
 * One process in a pseudo-terminal on this server (the screen, recording and flow control
 * are ScreenedTerminal's). Input is never paused, so Ctrl-C always gets through.
 */
export class PtySource extends ScreenedTerminal {
  readonly pid: number;
  readonly startTime: string | null;
  /** Resolves once the process exited and every byte it wrote is in the sink and delivered to listeners. */
  readonly finished: Promise<PtyExit>;

  private readonly pty: IPty;
  private exitPoll: NodeJS.Timeout | null = null;
  private slaveFd: number | null = null;

  constructor(opts: PtyOptions) {
    super(opts);
    // node-pty hands out Buffers with `encoding: null` (its typings say string): output is
    // kept byte-exact and UTF-8 sequences split across reads are joined by each consumer.
    this.pty = pty.spawn(opts.argv[0], opts.argv.slice(1), {
      name: 'xterm-256color',
      cols: opts.cols,
      rows: opts.rows,
      cwd: opts.cwd,
      env: opts.env,
      encoding: null,
    } as pty.IPtyForkOptions);
    this.pid = this.pty.pid;
    this.startTime = processStartTime(this.pid);
    this.slaveFd = holdSlave(this.pty);

    this.pty.onData((data) => this.onData(data as unknown as Buffer));
    this.finished = new Promise<PtyExit>((resolve) => {
      this.pty.onExit(({ exitCode, signal }) => {
        this.stopExitPoll();
        // Read whatever is still queued: nothing may pause the PTY any more.
        this.markExited();
        void this.drainAfterExit().then(() => {
          this.flushOutput();
          this.releaseSlave();
          resolve(signal ? { exitCode: null, signal: SIGNAL_NAMES.get(signal) ?? null } : { exitCode, signal: null });
        });
      });
    });
  }

  write(data: string | Buffer): void {
    if (this.exited) return;
    this.pty.write(data as string);
  }

  /**
   * Ends the terminal: SIGHUP to every process of its session (job-control groups
   * included, which a process-group kill would miss), SIGKILL to what is left after `graceMs`.
   */
  async cancel(graceMs: number): Promise<void> {
    if (this.exited) return;
    const sid = this.pid;
    signalSession(sid, 'SIGHUP');
    signalSession(sid, 'SIGCONT');
    // A paused PTY would keep a program blocked on write; let it run to see the hangup.
    this.releaseAll();
    const until = Date.now() + graceMs;
    while (Date.now() < until && !this.exited && sessionPids(sid).length) {
      await new Promise((r) => setTimeout(r, 50));
    }
    signalSession(sid, 'SIGKILL');
    try {
      if (!this.exited) process.kill(sid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  protected applySize(cols: number, rows: number): boolean {
    try {
      this.pty.resize(cols, rows);
      return true;
    } catch {
      return false; // exited in the meantime
    }
  }

  protected setPaused(paused: boolean) {
    if (paused) {
      this.pty.pause();
      // node-pty stops waiting for the last output 200 ms after the process exits, and a
      // paused PTY is not read: notice the exit early and resume so nothing is lost.
      this.exitPoll = setInterval(() => {
        if (!processRunning(this.pid)) this.releaseAll();
      }, PAUSED_EXIT_POLL_MS);
      this.exitPoll.unref();
    } else {
      this.stopExitPoll();
      this.pty.resume();
    }
  }

  private stopExitPoll() {
    if (this.exitPoll) clearInterval(this.exitPoll);
    this.exitPoll = null;
  }

  /** node-pty may report the exit before the last data event: wait for a quiet PTY. */
  private async drainAfterExit() {
    const exitAt = Date.now();
    this.lastDataAt = Math.max(this.lastDataAt, exitAt);
    while (Date.now() - this.lastDataAt < EXIT_QUIET_MS && Date.now() - exitAt < EXIT_DRAIN_MAX_MS) {
      await new Promise((r) => setTimeout(r, EXIT_QUIET_MS / 3));
    }
  }

  private releaseSlave() {
    if (this.slaveFd === null) return;
    try {
      fs.closeSync(this.slaveFd);
    } catch {
      // already closed
    }
    this.slaveFd = null;
  }

  /** Frees the server-side screen; call after `finished`. */
  dispose() {
    this.stopExitPoll();
    this.releaseSlave();
    super.dispose();
  }
}
