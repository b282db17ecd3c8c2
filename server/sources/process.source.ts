import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import type { Readable } from 'node:stream';
import type { JobEventSink } from '../events/job-event-sink.ts';
import type { PipeSupply } from './pipe-supply.ts';
import type { ProcessLauncher } from './process-launcher.ts';
import { processStartTime, terminateGroup } from './process-group.ts';

export interface ProcessRun {
  pid: number;
  startTime: string | null;
  /** Resolves when the process has exited and all of its output is in the sink. */
  finished: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
  cancel(graceMs: number): Promise<void>;
}

/** How a process ended: its exit, a start that failed, or a process no one can wait for any more. */
export type ProcessEnd =
  | { exitCode: number | null; signal: NodeJS.Signals | null }
  | { error: Error }
  | { lost: string };

/** A started process, whichever way it was started: its output streams and how it ends. */
export interface LaunchedProcess {
  pid: number | undefined;
  stdout: Readable;
  stderr: Readable;
  end: Promise<ProcessEnd>;
}

/** A process that cannot be waited for is stopped after this long, SIGKILL after. */
const LOST_GRACE_MS = 2000;

/**
 * Runs argv (never a shell string) in its own process group and pipes stdout/stderr into
 * the sink. When the sink is behind, both pipes are paused, so a flood (`yes`) waits for
 * the database instead of filling memory. The job ends once the process has exited and
 * both pipes are drained.
 *
 * With a `launcher`, the process is started from its helper process, which keeps the
 * server's event loop free (see ProcessLauncher); without, or when it cannot, from here.
 * Either way stdout and stderr are real pipes when FIFOs can be made (see PipeSupply), so
 * the process can open /dev/stdout and /dev/stderr; otherwise Node's socket pairs.
 */
export async function runProcess(
  argv: string[],
  opts: { cwd: string; env: Record<string, string>; sink: JobEventSink; launcher?: ProcessLauncher },
): Promise<ProcessRun> {
  const { sink, launcher } = opts;
  const proc = (await launcher?.launch(argv, opts)) ?? (await launchHere(argv, opts, launcher?.pipes));
  const { stdout, stderr } = proc;
  let paused = false;
  const onData = (stream: 'stdout' | 'stderr') => (buf: Buffer) => {
    if (!sink.write(stream, buf) && !paused) {
      paused = true;
      stdout.pause();
      stderr.pause();
      void sink.whenDrained().then(() => {
        paused = false;
        stdout.resume();
        stderr.resume();
      });
    }
  };
  stdout.on('data', onData('stdout'));
  stderr.on('data', onData('stderr'));
  // A read error ends that stream (destroy); it must not take the server down.
  for (const s of [stdout, stderr]) s.on('error', () => {});
  const drained = Promise.all([stdout, stderr].map((s) => new Promise((resolve) => {
    if (s.closed) resolve(null);
    else s.once('close', resolve);
  })));
  const stopReading = () => {
    stdout.destroy();
    stderr.destroy();
  };

  const pid = proc.pid ?? -1;
  const finished = proc.end.then(async (end) => {
    if ('error' in end) {
      stopReading();
      sink.system(`Could not start ${argv[0]}: ${end.error.message}`);
      return { exitCode: null, signal: null };
    }
    if ('lost' in end) {
      sink.system(`Stopped: ${end.lost}, so its exit could not be known.`);
      if (pid > 0) await terminateGroup(pid, LOST_GRACE_MS);
    }
    // A background grandchild can keep the pipes open forever; stop waiting for it
    // shortly after the main process is gone.
    setTimeout(stopReading, 2000).unref();
    await drained;
    return 'lost' in end ? { exitCode: null, signal: null } : end;
  });

  return {
    pid,
    startTime: pid > 0 ? processStartTime(pid) : null,
    finished,
    cancel: (graceMs) => (pid > 0 ? terminateGroup(pid, graceMs) : Promise.resolve()),
  };
}

/** Starts the process from the server itself. */
async function launchHere(
  argv: string[],
  opts: { cwd: string; env: Record<string, string> },
  pipes: PipeSupply | undefined,
): Promise<LaunchedProcess> {
  // Without pipes, Node's socket pairs.
  const ends = (await pipes?.takePair()) ?? null;
  let child;
  try {
    child = spawn(argv[0], argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', ends?.[0].write ?? 'pipe', ends?.[1].write ?? 'pipe'],
    });
  } catch (err) {
    for (const end of ends ?? []) fs.closeSync(end.read);
    throw err;
  } finally {
    // The child has its own copies now; ours would keep the pipes from ever reaching EOF.
    for (const end of ends ?? []) fs.closeSync(end.write);
  }
  const [stdout, stderr] = ends
    ? ends.map((end) => new net.Socket({ fd: end.read, readable: true, writable: false }))
    : [child.stdout!, child.stderr!];
  const end = new Promise<ProcessEnd>((resolve) => {
    // A start that fails reports 'error' and no exit.
    child.once('error', (error) => resolve({ error }));
    child.once('exit', (exitCode, signal) => resolve({ exitCode, signal }));
  });
  return { pid: child.pid, stdout, stderr, end };
}
