import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobEventSink } from '../../server/events/job-event-sink.ts';
import type { StoredEvent } from '../../server/events/event.repository.ts';
import { createLogger } from '../../server/platform/logger.ts';
import { PipeSupply } from '../../server/sources/pipe-supply.ts';
import { runProcess } from '../../server/sources/process.source.ts';

const log = createLogger('silent');
const openFds = () => fs.readdirSync('/proc/self/fd').length;

/** A sink that keeps what it stores in memory. */
function memorySink() {
  const stored: StoredEvent[] = [];
  const sink = new JobEventSink({ jobId: 'job', insertBatch: async (_id, events) => void stored.push(...events), publish: () => {}, log });
  const text = (stream: string) => stored.filter((e) => e.stream === stream).map((e) => e.chunk.toString()).join('');
  return { sink, text };
}

async function runToEnd(script: string, pipes?: PipeSupply) {
  const { sink, text } = memorySink();
  const run = await runProcess(['sh', '-c', script], { cwd: os.tmpdir(), env: { PATH: process.env.PATH! }, sink, pipes });
  const exit = await run.finished;
  await sink.close();
  return { exit, stdout: text('stdout'), stderr: text('stderr') };
}

describe('PipeSupply', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-supply-test-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('gives a pipe that carries bytes and that no name leads to', async () => {
    const pipes = new PipeSupply(log, tmp);
    const ends = (await pipes.take())!;
    expect(fs.fstatSync(ends.read).isFIFO()).toBe(true);
    expect(fs.readlinkSync(`/proc/self/fd/${ends.read}`)).toMatch(/ \(deleted\)$/);
    fs.writeSync(ends.write, 'hello');
    const buf = Buffer.alloc(16);
    expect(buf.subarray(0, fs.readSync(ends.read, buf)).toString()).toBe('hello');
    fs.closeSync(ends.read);
    fs.closeSync(ends.write);
    pipes.close();
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('removes what a killed server left, and keeps a live one\'s', async () => {
    const dead = path.join(tmp, 'vmo-pipes-4194305-abc'); // above Linux's largest pid
    const alive = path.join(tmp, `vmo-pipes-${process.pid}-abc`);
    for (const dir of [dead, alive]) fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dead, '1'), '');
    const pipes = new PipeSupply(log, tmp);
    const ends = (await pipes.take())!;
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.existsSync(alive)).toBe(true);
    fs.closeSync(ends.read);
    fs.closeSync(ends.write);
    pipes.close();
  });

  it('lets a job open /dev/stdout and /dev/stderr, and leaks no descriptor', async () => {
    const pipes = new PipeSupply(log, tmp);
    await runToEnd('true', pipes); // the first call makes the directory and the stock
    const before = openFds();
    const r = await runToEnd('echo out > /dev/stdout; echo err > /dev/stderr; echo both | tee /dev/stderr', pipes);
    expect(r).toEqual({ exit: { exitCode: 0, signal: null }, stdout: 'out\nboth\n', stderr: 'err\nboth\n' });
    expect(openFds()).toBe(before);
    pipes.close();
  });

  it('falls back to socket pairs when FIFOs cannot be made, and the job still runs', async () => {
    const pipes = new PipeSupply(log, path.join(tmp, 'missing'));
    expect(await pipes.take()).toBeNull();
    const r = await runToEnd('echo plain; echo err >&2; echo x > /dev/stdout', pipes);
    // What the supply is for: a socket cannot be opened by name.
    expect(r.stdout).toBe('plain\n');
    expect(r.stderr).toMatch(/^err\n.*No such device or address/s);
    expect(r.exit.exitCode).not.toBe(0);
  });
});
