import { spawn } from 'node:child_process';
import type { JobEventSink } from '../events/job-event-sink.ts';
import { processStartTime, terminateGroup } from './process-group.ts';

export interface ProcessRun {
  pid: number;
  startTime: string | null;
  /** Resolves when the process has exited and all of its output is in the sink. */
  finished: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
  cancel(graceMs: number): Promise<void>;
}

/**
 * Runs argv (never a shell string) in its own process group and pipes stdout/stderr into
 * the sink. When the sink is behind, both pipes are paused, so a flood (`yes`) waits for
 * the database instead of filling memory. The job ends on 'close' (all output read), not
 * on 'exit'.
 */
export function runProcess(
  argv: string[],
  opts: { cwd: string; env: Record<string, string>; sink: JobEventSink },
): ProcessRun {
  const child = spawn(argv[0], argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { sink } = opts;
  let paused = false;
  const onData = (stream: 'stdout' | 'stderr') => (buf: Buffer) => {
    if (!sink.write(stream, buf) && !paused) {
      paused = true;
      child.stdout!.pause();
      child.stderr!.pause();
      void sink.whenDrained().then(() => {
        paused = false;
        child.stdout!.resume();
        child.stderr!.resume();
      });
    }
  };
  child.stdout!.on('data', onData('stdout'));
  child.stderr!.on('data', onData('stderr'));

  const finished = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    let spawnError: Error | null = null;
    child.once('error', (err) => {
      spawnError = err;
      sink.system(`Could not start ${argv[0]}: ${err.message}`);
      resolve({ exitCode: null, signal: null });
    });
    child.once('exit', () => {
      // A background grandchild can keep the pipes open forever; stop waiting for it
      // shortly after the main process is gone.
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, 2000).unref();
    });
    child.once('close', (code, signal) => {
      if (!spawnError) resolve({ exitCode: code, signal });
    });
  });

  const pid = child.pid ?? -1;
  return {
    pid,
    startTime: pid > 0 ? processStartTime(pid) : null,
    finished,
    cancel: (graceMs) => (pid > 0 ? terminateGroup(pid, graceMs) : Promise.resolve()),
  };
}
