import type { ClientChannel } from 'ssh2';
import type { JobEventSink } from '../events/job-event-sink.ts';
import type { PresetOutput, PresetPosition, PresetRun } from './log-presets.ts';
import { cancellableCommand } from './remote-command.ts';
import { SshError, sshConnectionLost } from './ssh-errors.ts';
import type { SshLease, SshPool } from './ssh-pool.ts';
import type { SshPlan } from './ssh-plan.ts';

export interface ReconnectPolicy {
  /** Failed reconnects in a row before the job fails. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface RemoteRunOptions {
  pool: SshPool;
  plan: SshPlan;
  sink: JobEventSink;
  /** A fresh parser+command per connection, from the last position; null position = first run. */
  start: (from: PresetPosition | null) => PresetRun;
  /** Presets resume after a drop; a custom command cannot (running it twice could do harm). */
  resumable: boolean;
  reconnect: ReconnectPolicy;
  /** Called when the position moved (callers persist it, throttled). */
  onPosition?: (p: PresetPosition) => void;
}

export interface RemoteRun {
  /** Where the stream stands now (null for a custom command or before the first connection). */
  position(): PresetPosition | null;
  finished: Promise<{ exitCode: number | null; signal?: NodeJS.Signals | null }>;
  cancel(graceMs: number): Promise<void>;
}

type ChannelEnd =
  | { kind: 'exit'; code: number | null; signal: string | null }
  | { kind: 'lost'; reason: string };

const sleep = (ms: number, wake: Promise<void>) =>
  Promise.race([new Promise<void>((r) => setTimeout(r, ms).unref()), wake]);

/**
 * Runs a command on a host as a job: stdout and stderr into the job's sink, binary-safe,
 * with back-pressure (`pause()` on the channel really stops the sender once the window is
 * used up). Both streams are read and paused together: they share one flow-control window,
 * so unread stderr would stall stdout. When the connection drops, a resumable stream
 * reconnects with backoff and continues from its position; each attempt is written to the
 * log. Cancel closes the channel's stdin, which the remote wrapper turns into a TERM to the
 * command's process group.
 */
export function runRemote(o: RemoteRunOptions): RemoteRun {
  let canceled = false;
  let wakeUp: () => void = () => {};
  const woken = new Promise<void>((r) => (wakeUp = r));
  let channel: ClientChannel | null = null;
  let channelClosed: Promise<void> = Promise.resolve();
  let current: PresetRun | null = null;

  const finished = (async () => {
    let position: PresetPosition | null = null;
    let failures = 0;
    let everConnected = false;
    for (;;) {
      if (canceled) return { exitCode: null };
      let lease: SshLease;
      try {
        lease = await o.pool.lease(o.plan);
      } catch (err) {
        const e = err as Error;
        // Trust and login problems do not heal by retrying; a first connect fails fast and clearly.
        const fatal = !everConnected || (e instanceof SshError && e.code !== 'ssh_unreachable');
        if (fatal || !o.resumable || ++failures > o.reconnect.attempts) {
          o.sink.system(`${e.message}${e instanceof SshError ? ` [${e.code}]` : ''}`);
          if (everConnected && !fatal) o.sink.system(`Gave up after ${o.reconnect.attempts} reconnect attempts.`);
          return { exitCode: null };
        }
        const delay = backoff(o.reconnect, failures);
        o.sink.system(`Reconnect attempt ${failures} of ${o.reconnect.attempts} failed: ${e.message}. Next try in ${fmt(delay)}.`);
        await sleep(delay, woken);
        continue;
      }
      if (everConnected) o.sink.system(`Reconnected to ${o.plan.target.label}${describeResume(position)}.`);
      everConnected = true;
      failures = 0;
      const run = o.start(position);
      current = run;
      let end: ChannelEnd;
      try {
        end = await runChannel(lease, run, o.sink, (ch, closed) => {
          channel = ch;
          channelClosed = closed;
          if (canceled) ch.end();
        });
      } finally {
        channel = null;
        lease.release();
      }
      position = run.position();
      if (position) o.onPosition?.(position);
      if (end.kind === 'exit') {
        if (end.signal) o.sink.system(`Stopped on the host by signal ${end.signal}`);
        return { exitCode: end.code };
      }
      if (canceled) return { exitCode: null };
      if (!o.resumable) {
        o.sink.system(`${sshConnectionLost(o.plan.target.label, end.reason).message}. Whether the command finished on the host is unknown, so it was not run again.`);
        return { exitCode: null };
      }
      failures++;
      if (failures > o.reconnect.attempts) {
        o.sink.system(`Connection lost (${end.reason}); gave up after ${o.reconnect.attempts} reconnect attempts.`);
        return { exitCode: null };
      }
      const delay = backoff(o.reconnect, failures);
      o.sink.system(`Connection to ${o.plan.target.label} lost (${end.reason}). Reconnecting in ${fmt(delay)} (attempt ${failures} of ${o.reconnect.attempts}).`);
      await sleep(delay, woken);
    }
  })();

  return {
    finished,
    position: () => current?.position() ?? null,
    async cancel(graceMs: number) {
      canceled = true;
      wakeUp();
      const ch = channel as ClientChannel | null;
      if (!ch) return;
      ch.end(); // EOF on the remote stdin: the wrapper stops the command's process group
      const closedInTime = await Promise.race([channelClosed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref())]);
      if (!closedInTime) ch.close();
    },
  };
}

/** Opens one exec channel on the lease and pumps it into the sink until it ends. */
function runChannel(
  lease: SshLease,
  run: PresetRun,
  sink: JobEventSink,
  opened: (ch: ClientChannel, closed: Promise<void>) => void,
): Promise<ChannelEnd> {
  return new Promise<ChannelEnd>((resolve) => {
    lease.connection.client.exec(cancellableCommand(run.command), (err, ch) => {
      if (err) return resolve({ kind: 'lost', reason: `could not open a channel (${err.message})` });
      let exit: ChannelEnd | null = null;
      let paused = false;
      const write = (outs: PresetOutput[]) => {
        let ok = true;
        for (const o of outs) ok = sink.write(o.stream, o.data) && ok;
        for (const note of run.takeNotes()) sink.system(note);
        if (!ok && !paused) {
          paused = true;
          ch.pause();
          ch.stderr.pause();
          void sink.whenDrained().then(() => {
            paused = false;
            ch.resume();
            ch.stderr.resume();
          });
        }
      };
      ch.on('data', (b: Buffer) => write(run.stdout(b)));
      ch.stderr.on('data', (b: Buffer) => write(run.stderr(b)));
      ch.on('exit', (code: number | null, signal?: string) => {
        exit = { kind: 'exit', code: code ?? null, signal: signal ?? null };
      });
      const closed = new Promise<void>((r) => ch.once('close', () => r()));
      opened(ch, closed);
      // A dead connection does not always close its channels first.
      const unsubscribe = lease.connection.onClose((reason) => {
        if (!exit) exit = { kind: 'lost', reason };
        ch.destroy();
      });
      void closed.then(() => {
        unsubscribe();
        write(run.end());
        resolve(exit ?? { kind: 'lost', reason: 'the channel closed without an exit status' });
      });
    });
  });
}

function backoff(p: ReconnectPolicy, attempt: number): number {
  return Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (attempt - 1));
}

function fmt(ms: number) {
  return ms < 1000 ? `${ms} ms` : `${+(ms / 1000).toFixed(1)} s`;
}

function describeResume(p: PresetPosition | null): string {
  if (!p) return '';
  if (p.kind === 'journalctl') return p.cursor ? '; continuing after the last journal entry received' : '';
  if (p.kind === 'docker-logs') return p.since ? `; continuing from ${p.since} (lines already shown at that instant are skipped)` : '';
  return p.offset >= 0 ? `; continuing at byte ${p.offset}` : '';
}
