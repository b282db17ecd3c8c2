import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/platform/logger.ts';
import { PipeSupply } from '../../server/sources/pipe-supply.ts';
import { ProcessLauncher } from '../../server/sources/process-launcher.ts';
import { runToEnd } from '../helpers/run-process.ts';

const log = createLogger('silent');
const ROOT = path.resolve(import.meta.dirname, '../..');

describe('PipeSupply', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-supply-test-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('gives a pipe that carries bytes and that no name leads to', async () => {
    const pipes = new PipeSupply(log, tmp);
    const [ends, other] = (await pipes.takePair())!;
    expect(fs.fstatSync(ends.read).isFIFO()).toBe(true);
    expect(fs.readlinkSync(`/proc/self/fd/${ends.read}`)).toMatch(/ \(deleted\)$/);
    fs.writeSync(ends.write, 'hello');
    const buf = Buffer.alloc(16);
    expect(buf.subarray(0, fs.readSync(ends.read, buf)).toString()).toBe('hello');
    for (const fd of [ends.read, ends.write, other.read, other.write]) fs.closeSync(fd);
    pipes.close();
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('removes its directory when the process exits without closing it', async () => {
    const script = `
      import { createLogger } from './server/platform/logger.ts';
      import { PipeSupply } from './server/sources/pipe-supply.ts';
      const pipes = new PipeSupply(createLogger('silent'), ${JSON.stringify(tmp)});
      await pipes.takePair();
      console.log(require('node:fs').readdirSync(${JSON.stringify(tmp)}).length);
      process.exit(0);
    `.replace("require('node:fs')", "(await import('node:fs'))");
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT }).toString();
    expect(out.trim()).toBe('1'); // the directory existed while it ran
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('removes what a killed server left, and keeps a live one\'s', async () => {
    const dead = path.join(tmp, 'vmo-pipes-4194305-abc'); // above Linux's largest pid
    const alive = path.join(tmp, `vmo-pipes-${process.pid}-abc`);
    for (const dir of [dead, alive]) fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dead, '1'), '');
    const pipes = new PipeSupply(log, tmp);
    const pair = (await pipes.takePair())!;
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.existsSync(alive)).toBe(true);
    for (const ends of pair) for (const fd of [ends.read, ends.write]) fs.closeSync(fd);
    pipes.close();
  });

  it('falls back to socket pairs when FIFOs cannot be made, and the job still runs', async () => {
    const pipes = new PipeSupply(log, path.join(tmp, 'missing'));
    expect(await pipes.takePair()).toBeNull();
    const r = await runToEnd(['sh', '-c', 'echo plain; echo err >&2; echo x > /dev/stdout'], new ProcessLauncher(pipes, log));
    // What the supply is for: a socket cannot be opened by name.
    expect(r.stdout).toBe('plain\n');
    expect(r.stderr).toMatch(/^err\n.*No such device or address/s);
    expect(r.exit.exitCode).not.toBe(0);
  });
});
