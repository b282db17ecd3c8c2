import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import type { JobEventSink } from '../events/job-event-sink.ts';
import type { PipeEnds, PipeSupply } from './pipe-supply.ts';
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
 * the database instead of filling memory. The job ends once the process has exited and
 * both pipes are drained.
 *
 * With `pipes`, stdout and stderr are real pipes (see PipeSupply), so the process can open
 * /dev/stdout and /dev/stderr; without, or when none can be made, Node's socket pairs.
 */
export async function runProcess(
  argv: string[],
  opts: { cwd: string; env: Record<string, string>; sink: JobEventSink; pipes?: PipeSupply },
): Promise<ProcessRun> {
  const ends = await takeTwo(opts.pipes);
  let child: ChildProcess;
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
  const { sink } = opts;
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
        stdout.destroy();
        stderr.destroy();
      }, 2000).unref();
    });
    child.once('close', (code, signal) => {
      void drained.then(() => {
        if (!spawnError) resolve({ exitCode: code, signal });
      });
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

/** Two pipes for stdout and stderr, or null to use Node's socket pairs for both. */
async function takeTwo(pipes: PipeSupply | undefined): Promise<[PipeEnds, PipeEnds] | null> {
  const first = await pipes?.take();
  if (!first) return null;
  const second = await pipes!.take().catch((err) => {
    fs.closeSync(first.read);
    fs.closeSync(first.write);
    throw err;
  });
  if (second) return [first, second];
  fs.closeSync(first.read);
  fs.closeSync(first.write);
  return null;
}
