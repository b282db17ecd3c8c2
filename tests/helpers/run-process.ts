import os from 'node:os';
import { JobEventSink } from '../../server/events/job-event-sink.ts';
import type { StoredEvent } from '../../server/events/event.repository.ts';
import { createLogger } from '../../server/platform/logger.ts';
import type { ProcessLauncher } from '../../server/sources/process-launcher.ts';
import { runProcess, type ProcessRun } from '../../server/sources/process.source.ts';

const log = createLogger('silent');

/** A sink that keeps what it stores in memory, as the job runner's would store it. */
export function memorySink() {
  const stored: StoredEvent[] = [];
  const sink = new JobEventSink({ jobId: 'job', insertBatch: async (_id, events) => void stored.push(...events), publish: () => {}, log });
  const text = (stream: string) => stored.filter((e) => e.stream === stream).map((e) => e.chunk.toString()).join('');
  return { sink, text };
}

/** Runs argv as a job's process would run, until its output is stored. */
export async function runToEnd(argv: string[], launcher?: ProcessLauncher, onStart?: (run: ProcessRun) => void) {
  const { sink, text } = memorySink();
  const run = await runProcess(argv, { cwd: os.tmpdir(), env: { PATH: process.env.PATH! }, sink, launcher });
  onStart?.(run);
  const exit = await run.finished;
  await sink.close();
  return { exit, pid: run.pid, stdout: text('stdout'), stderr: text('stderr'), system: text('system') };
}
