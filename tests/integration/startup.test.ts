import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/jobs.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe('npm start with the embedded Postgres', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-start-'));
  fs.chmodSync(dataDir, 0o755);
  const children: ChildProcess[] = [];
  afterAll(() => {
    children.forEach((c) => c.kill('SIGKILL'));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts, refuses a second server on the same data, and stops Postgres on SIGTERM', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const first = start({ DATA_DIR: dataDir, PORT: String(port) });
    children.push(first.child);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => null))?.ok, 60_000, 'server');
    expect(first.output()).toMatch(/created user "admin" with password: \S+/);
    const pgPid = Number(fs.readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(() => process.kill(pgPid, 0)).not.toThrow();

    const second = start({ DATA_DIR: dataDir, PORT: String(port + 1) });
    children.push(second.child);
    expect(await second.exited, second.output()).toBe(1);
    expect(second.output()).toMatch(/already running on .* \(pid \d+\)/);

    first.child.kill('SIGTERM');
    expect(await first.exited, first.output()).toBe(0);
    expect(() => process.kill(pgPid, 0)).toThrow();
    expect(fs.existsSync(path.join(dataDir, 'server.pid'))).toBe(false);

    // The data survives: a restart reuses it and does not create admin again.
    const third = start({ DATA_DIR: dataDir, PORT: String(port) });
    children.push(third.child);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => null))?.ok, 60_000, 'restart');
    expect(third.output()).not.toMatch(/created user/);
    third.child.kill('SIGINT');
    expect(await third.exited, third.output()).toBe(0);
  }, 120_000);

  it('names every bad setting and exits non-zero', async () => {
    const bad = start({ PORT: 'eighty', LOG_LEVEL: 'loud' });
    children.push(bad.child);
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain('PORT');
    expect(bad.output()).toContain('LOG_LEVEL');
  });
});
