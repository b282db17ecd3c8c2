import type { ClientChannel } from 'ssh2';
import type { JobEventSink } from '../events/job-event-sink.ts';
import { ScreenedTerminal, type TerminalExit } from '../sources/screened-terminal.ts';
import type { SshPlan } from './ssh-plan.ts';
import type { SshLease, SshPool } from './ssh-pool.ts';

export interface SshShellOptions {
  lease: SshLease;
  sink: JobEventSink;
  cols: number;
  rows: number;
  scrollback?: number;
}

/**
 * An interactive shell on a remote host: an ssh2 shell channel with a PTY, driving the
 * same screen, recording and flow control as a local terminal. Pausing the channel stream
 * stops reading, and once the SSH window is used up the remote program blocks on write:
 * back-pressure reaches the host. Ending it closes the channel; sshd hangs up the remote
 * PTY (SIGHUP to its session), which a PTY does, unlike a plain exec channel.
 */
export class SshShellSource extends ScreenedTerminal {
  readonly finished: Promise<TerminalExit>;
  private channel: ClientChannel | null = null;
  private pending: Array<string | Buffer> = [];
  private pausedNow = false;
  private readonly lease: SshLease;

  /** Opens the shell channel; rejects when the server refuses it. */
  static open(opts: SshShellOptions): Promise<SshShellSource> {
    return new Promise((resolve, reject) => {
      opts.lease.connection.client.shell({ term: 'xterm-256color', cols: opts.cols, rows: opts.rows }, (err, ch) => {
        if (err) reject(new Error(`the server refused a shell (${err.message})`));
        else resolve(new SshShellSource(opts, ch));
      });
    });
  }

  /** Leases a pooled connection for `plan` and opens a shell on it; the lease goes back if the shell is refused. */
  static async openOn(pool: SshPool, plan: SshPlan, opts: Omit<SshShellOptions, 'lease'>): Promise<SshShellSource> {
    const lease = await pool.lease(plan);
    try {
      return await SshShellSource.open({ ...opts, lease });
    } catch (err) {
      lease.release();
      throw err;
    }
  }

  private constructor(opts: SshShellOptions, channel: ClientChannel) {
    super(opts);
    this.lease = opts.lease;
    this.channel = channel;
    channel.on('data', (b: Buffer) => this.onData(b));
    channel.stderr.on('data', (b: Buffer) => this.onData(b));
    this.finished = new Promise<TerminalExit>((resolve) => {
      let exit: TerminalExit = { exitCode: null, signal: null };
      channel.on('exit', (code: number | null, signal?: string) => {
        exit = { exitCode: code ?? null, signal: signal ? (`SIG${signal}` as NodeJS.Signals) : null };
      });
      let unsubscribe = () => {};
      const ended = () => {
        unsubscribe();
        if (this.exited) return;
        this.markExited();
        this.flushOutput();
        this.channel = null;
        this.lease.release();
        resolve(exit);
      };
      channel.once('close', ended);
      // A connection lost without a channel close (keepalive timeout) ends the shell too.
      unsubscribe = this.lease.connection.onClose(() => {
        channel.destroy();
        ended();
      });
    });
    for (const d of this.pending) channel.write(d);
    this.pending = [];
  }

  write(data: string | Buffer): void {
    if (this.exited) return;
    if (this.channel) this.channel.write(data);
    else this.pending.push(data);
  }

  async cancel(graceMs: number): Promise<void> {
    const ch = this.channel;
    if (!ch || this.exited) return;
    this.releaseAll();
    ch.close(); // sshd hangs up the remote PTY's session
    const done = await Promise.race([
      this.finished.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref()),
    ]);
    if (!done) ch.destroy();
  }

  protected applySize(cols: number, rows: number): boolean {
    if (!this.channel) return false;
    this.channel.setWindow(rows, cols, 0, 0);
    return true;
  }

  protected setPaused(paused: boolean): void {
    if (!this.channel || paused === this.pausedNow) return;
    this.pausedNow = paused;
    if (paused) {
      this.channel.pause();
      this.channel.stderr.pause();
    } else {
      this.channel.resume();
      this.channel.stderr.resume();
    }
  }
}
