import { spawn } from 'node:child_process';
import path from 'node:path';
import { waitFor } from './jobs.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * A console server in a process of its own, for tests that kill it mid-work. Its output is
 * kept (the last 8 KB), so that a server that does not come up says why.
 */
export function spawnServer(port: number, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    });
  }
  return {
    child,
    /** Waits for /api/health to answer; fails at once if the server exits, with what it printed. */
    async healthy(what: string, ms = 60_000) {
      try {
        await waitFor(async () => {
          if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode})`);
          return (await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => null))?.ok;
        }, ms, what);
      } catch (err) {
        throw new Error(`${(err as Error).message}; its output:\n${output}`, { cause: err });
      }
    },
  };
}
