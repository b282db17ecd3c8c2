import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { sleep } from './lib.ts';

/**
 * wetty, the terminal `npm run bench:terminal` compares ours with. It is not a dependency
 * of the console: only this benchmark needs it, and its dependencies declare a newer Node
 * than the console supports. The benchmark installs it on first use into a directory of its
 * own (bench/.tools/wetty, gitignored), apart from the project's package.json and lock.
 */
export const WETTY_VERSION = '3.2.0';
export const WETTY_DIR = path.resolve(import.meta.dirname, '.tools', 'wetty');

/**
 * The install's own manifest. Its allowScripts is the whole install-script policy: node-pty
 * builds its native PTY binding (wetty cannot run without it); sass's file watcher, which
 * wetty never uses, is refused, as in the project's own package.json.
 */
const MANIFEST = {
  name: 'vm-orchestrator-bench-wetty',
  private: true,
  description: 'wetty for npm run bench:terminal, installed on demand by bench/wetty.ts',
  allowScripts: { 'node-pty': true, '@parcel/watcher': false },
};

const INSTALL_TIMEOUT_MS = 10 * 60_000;

export type WettyTool = { main: string } | { skipped: string };

/** wetty's entry point when the wanted version is installed, else null. */
function installedMain(dir: string): string | null {
  const pkgDir = path.join(dir, 'node_modules', 'wetty');
  try {
    // Read the file itself: wetty's exports map does not expose ./package.json to require.
    const { version } = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string };
    const main = path.join(pkgDir, 'build', 'main.js');
    return version === WETTY_VERSION && fs.existsSync(main) ? main : null;
  } catch {
    return null;
  }
}

/** Why an npm install failed, in words: no network is the common case and says so. */
function installFailure(output: string, exitCode: number | null, logFile: string): string {
  const offline = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH)\b/.exec(output);
  if (offline) return `no network: npm could not reach its registry to install wetty ${WETTY_VERSION} (${offline[1]}); see ${logFile}`;
  const lastError = output.split('\n').filter((l) => l.startsWith('npm error')).slice(0, 3).join(' / ');
  return `installing wetty ${WETTY_VERSION} failed (npm exit ${exitCode}${lastError ? `: ${lastError}` : ''}); see ${logFile}`;
}

/**
 * wetty's entry point, installing it first when needed. Never throws: when it cannot be had
 * (no network, no npm, a failed build), it says why, and the benchmark skips wetty's rows
 * with that reason.
 */
export async function ensureWetty(say: (line: string) => void = console.log, dir = WETTY_DIR): Promise<WettyTool> {
  const found = installedMain(dir);
  if (found) return { main: found };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(MANIFEST, null, 2)}\n`);
  const logFile = path.join(dir, 'install.log');
  const shown = path.relative(process.cwd(), dir);
  say(`Installing wetty ${WETTY_VERSION} into ${shown && !shown.startsWith('..') ? shown : dir} for the comparison (first run only)…`);
  const args = ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', '--fetch-retries=1', `wetty@${WETTY_VERSION}`];
  const result = await new Promise<{ output: string; exitCode: number | null; spawnError?: string }>((resolve) => {
    const child = spawn('npm', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (b: Buffer) => (output += b));
    child.stderr!.on('data', (b: Buffer) => (output += b));
    const timer = setTimeout(() => child.kill('SIGTERM'), INSTALL_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ output, exitCode: null, spawnError: (err as NodeJS.ErrnoException).code ?? err.message });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ output: signal ? `${output}\n(stopped after ${INSTALL_TIMEOUT_MS / 60_000} minutes)` : output, exitCode: code });
    });
  });
  fs.writeFileSync(logFile, `$ npm ${args.join(' ')}\n${result.output}`);
  if (result.spawnError) return { skipped: `npm could not be run to install wetty ${WETTY_VERSION} (${result.spawnError})` };
  if (result.exitCode !== 0) return { skipped: installFailure(result.output, result.exitCode, logFile) };
  const main = installedMain(dir);
  return main ? { main } : { skipped: `npm installed wetty ${WETTY_VERSION} but ${path.join(dir, 'node_modules/wetty/build/main.js')} is missing; see ${logFile}` };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts wetty on loopback running `command` for every connection (as root: a local PTY, no login). */
export async function startWetty(main: string, command: string): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [main, '--port', String(port), '--host', '127.0.0.1', '--command', command, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`wetty exited: ${err.slice(-500)}`);
    try {
      if ((await fetch(base)).ok) return { child, base };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill();
  throw new Error(`wetty did not start: ${err.slice(-500)}`);
}
