import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/platform/logger.ts';
import { PipeSupply } from '../../server/sources/pipe-supply.ts';
import { ProcessLauncher } from '../../server/sources/process-launcher.ts';
import { runToEnd } from '../helpers/run-process.ts';
import { waitFor } from '../helpers/jobs.ts';

const log = createLogger('silent');
const openFds = () => fs.readdirSync('/proc/self/fd').length;
/** Processes of a group that have not exited (zombies wait for whoever adopts them to reap them). */
function runningInGroup(pgid: number): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      const [state, , pgrp] = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return Number(pgrp) === pgid && state !== 'Z' ? [Number(pid)] : [];
    } catch {
      return []; // gone meanwhile
    }
  });
}

/** Prints its parent's pid, then writes through the names a pipe can be opened by. */
const DEV_FILES = 'echo "parent $PPID"; echo out > /dev/stdout; echo err > /dev/stderr; echo both | tee /dev/stderr';

describe('ProcessLauncher', () => {
  let tmp: string;
  let launcher: ProcessLauncher;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'launcher-test-'));
    launcher = new ProcessLauncher(new PipeSupply(log, tmp), log);
  });
  afterEach(() => {
    launcher.close();
    launcher.pipes.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('starts a process from its helper, on pipes it can open by name, and leaks no descriptor', async () => {
    launcher.prepare(); // the server does this at its start, so the first job need not wait
    expect(launcher.helperPid).toBeGreaterThan(0);
    await runToEnd(['true'], launcher);
    const before = openFds();
    const r = await runToEnd(['sh', '-c', DEV_FILES], launcher);
    expect(r.stdout).toBe(`parent ${launcher.helperPid}\nout\nboth\n`);
    expect(r.stderr).toBe('err\nboth\n');
    expect(r.exit).toEqual({ exitCode: 0, signal: null });
    expect(launcher.helperPid).not.toBe(process.pid);
    expect(openFds()).toBe(before);
  });

  it('passes on exit codes and signals, and reports a program that does not exist', async () => {
    expect((await runToEnd(['sh', '-c', 'exit 7'], launcher)).exit).toEqual({ exitCode: 7, signal: null });
    expect((await runToEnd(['sh', '-c', 'kill -TERM $$'], launcher)).exit).toEqual({ exitCode: null, signal: 'SIGTERM' });
    const missing = await runToEnd(['no-such-program-here'], launcher);
    expect(missing.exit).toEqual({ exitCode: null, signal: null });
    expect(missing.system).toBe('Could not start no-such-program-here: spawn no-such-program-here ENOENT');
  });

  it('cancels the process group it started', async () => {
    let pid = 0;
    let canceled: Promise<void> | undefined;
    const r = await runToEnd(['sh', '-c', 'sleep 30 & echo started; wait'], launcher, (run) => {
      pid = run.pid;
      setTimeout(() => (canceled = run.cancel(1000)), 300);
    });
    expect(r.stdout).toBe('started\n');
    expect(r.exit).toEqual({ exitCode: null, signal: 'SIGTERM' });
    await canceled;
    expect(runningInGroup(pid)).toEqual([]);
  });

  it('stops the processes of a helper that died, says why, and starts a new helper for the next', async () => {
    let pid = 0;
    const first = await runToEnd(['true'], launcher).then(() => launcher.helperPid!);
    const done = runToEnd(['sh', '-c', 'sleep 30 & echo started; wait'], launcher, (run) => {
      pid = run.pid;
    });
    await waitFor(async () => pid > 0 && runningInGroup(pid).length > 0, 5000, 'the job to start');
    process.kill(first, 'SIGKILL');
    const r = await done;
    expect(r.system).toMatch(/^Stopped: the helper process that started it stopped/);
    expect(r.exit).toEqual({ exitCode: null, signal: null });
    expect(runningInGroup(pid)).toEqual([]);
    const next = await runToEnd(['sh', '-c', DEV_FILES], launcher);
    expect(launcher.helperPid).not.toBe(first);
    expect(next.stdout).toBe(`parent ${launcher.helperPid}\nout\nboth\n`);
  });

  it('starts the process from the server, still on pipes, when the helper cannot start', async () => {
    const broken = new ProcessLauncher(launcher.pipes, log, path.join(tmp, 'no-helper.mjs'));
    const r = await runToEnd(['sh', '-c', DEV_FILES], broken);
    expect(r.stdout).toBe(`parent ${process.pid}\nout\nboth\n`);
    expect(r.stderr).toBe('err\nboth\n');
    broken.close();
  });
});
