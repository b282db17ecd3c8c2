import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firstBlockedDir, firstUnusableEntry, permits, READ, SEARCH } from '../../server/platform/embedded-postgres/reachability.ts';
import { decisiveLine, explainFailedRun } from '../../server/platform/embedded-postgres/start-error.ts';

/** A user that owns nothing here: only the "others" bits apply to it, as for a fresh postgres user. */
const stranger = { uid: 54321, gid: 54321 };

describe('what the postgres user may do with a file', () => {
  it.each([
    // mode, owner uid, owner gid, bits, allowed
    [0o700, 54321, 0, SEARCH, true],
    [0o700, 0, 54321, SEARCH, false],
    [0o750, 0, 54321, SEARCH, true],
    [0o750, 0, 0, SEARCH, false],
    [0o755, 0, 0, SEARCH, true],
    [0o711, 0, 0, READ | SEARCH, false],
    [0o711, 0, 0, SEARCH, true],
    // The owner class decides alone: an owner without x is refused even if others have it.
    [0o075, 54321, 0, SEARCH, false],
  ])('mode %s owned by %s:%s, bits %s → %s', (mode, uid, gid, bits, allowed) => {
    expect(permits({ mode, uid, gid }, stranger, bits)).toBe(allowed);
  });
});

describe('walking a path as the postgres user', () => {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-reach-'));
  fs.chmodSync(top, 0o755);
  afterAll(() => fs.rmSync(top, { recursive: true, force: true }));

  it('names the first directory on the way it may not pass', () => {
    const closed = path.join(top, 'closed');
    fs.mkdirSync(path.join(closed, 'inner', 'deeper'), { recursive: true });
    fs.chmodSync(closed, 0o700);
    fs.chmodSync(path.join(closed, 'inner'), 0o700);
    expect(firstBlockedDir(path.join(closed, 'inner', 'deeper'), stranger)).toBe(fs.realpathSync(closed));
    expect(firstBlockedDir(top, stranger)).toBeNull();
  });

  it('walks the directories of a symlink target, not of the link', () => {
    const open = path.join(top, 'open');
    const hidden = path.join(top, 'hidden');
    fs.mkdirSync(open, { mode: 0o755 });
    fs.mkdirSync(path.join(hidden, 'data'), { recursive: true });
    fs.chmodSync(hidden, 0o700);
    fs.symlinkSync(path.join(hidden, 'data'), path.join(open, 'link'));
    expect(firstBlockedDir(path.join(open, 'link'), stranger)).toBe(fs.realpathSync(hidden));
  });

  it('finds a program tree entry it cannot read or run', () => {
    const tree = path.join(top, 'tree');
    fs.mkdirSync(path.join(tree, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(tree, 'share'), { recursive: true });
    fs.chmodSync(tree, 0o755);
    fs.writeFileSync(path.join(tree, 'bin', 'postgres'), '', { mode: 0o755 });
    fs.writeFileSync(path.join(tree, 'share', 'postgres.bki'), '', { mode: 0o644 });
    fs.symlinkSync('postgres', path.join(tree, 'bin', 'link'));
    expect(firstUnusableEntry(tree, stranger)).toBeNull();
    // npm run under umask 077 leaves files only their owner may run.
    fs.chmodSync(path.join(tree, 'bin', 'postgres'), 0o744);
    expect(firstUnusableEntry(tree, stranger)).toBe(path.join(fs.realpathSync(tree), 'bin', 'postgres'));
    fs.chmodSync(path.join(tree, 'bin', 'postgres'), 0o755);
    fs.chmodSync(path.join(tree, 'share'), 0o711);
    expect(firstUnusableEntry(tree, stranger)).toBe(path.join(fs.realpathSync(tree), 'share'));
  });
});

describe('explaining a Postgres that did not start', () => {
  const base = { pgData: '/srv/vmo/data/postgres', user: 'postgres', exitCode: 1 } as const;

  it('takes the reason from the FATAL line, without its timestamp or the progress text before it', () => {
    const out = 'running bootstrap script ... 2026-11-22 09:00:24.311 UTC [19570] FATAL:  could not write to file "pg_wal/xlogtemp.19570": No space left on device\nchild process exited with exit code 1\n';
    expect(decisiveLine(out)).toBe('could not write to file "pg_wal/xlogtemp.19570": No space left on device');
    expect(decisiveLine('postgres: could not access the server configuration file "/x/postgresql.conf": No such file or directory\n'))
      .toBe('postgres: could not access the server configuration file "/x/postgresql.conf": No such file or directory');
  });

  it.each([
    ['a full disk', 'initdb', 'FATAL:  could not extend file "base/1/1249": No space left on device', /disk holding \/srv\/vmo\/data\/postgres is full.*Free some space/],
    ['a taken port', 'postgres', '2026-11-22 09:00:24.311 UTC [1] LOG:  could not bind IPv4 address "127.0.0.1": Address already in use\n2026-11-22 09:00:24.311 UTC [1] FATAL:  could not create any TCP/IP sockets', /port 5432 on 127\.0\.0\.1 is already in use/],
    ['data of another major version', 'postgres', 'FATAL:  database files are incompatible with server\nDETAIL:  The data directory was initialized by PostgreSQL version 17, which is not compatible with this version 18.1.', /another PostgreSQL major version.*pg_dump/],
    ['a non-empty directory', 'initdb', 'initdb: error: directory "/srv/vmo/data/postgres" exists but is not empty', /holds files but no Postgres database/],
    ['wrong ownership', 'postgres', 'FATAL:  data directory "/srv/vmo/data/postgres" has wrong ownership', /may not use .*chown -R postgres/],
    ['anything else', 'postgres', 'FATAL:  something new', /stopped while starting on .*\(something new\)/],
  ] as const)('%s', (_name, program, output, message) => {
    const err = explainFailedRun({ ...base, program, output, port: 5432 });
    expect(err.message).toMatch(/^The embedded Postgres could not start: /);
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/DATABASE_URL/);
    expect(err.message).not.toContain('\n');
  });
});
