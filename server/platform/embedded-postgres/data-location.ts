import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { mkdirOpen } from './binaries.ts';
import { firstBlockedDir, type RunAs } from './reachability.ts';
import { EmbeddedPostgresError, OWN_POSTGRES } from './start-error.ts';

export interface DataLocation {
  /** The Postgres data directory Postgres is given (a real path, never a symlink). */
  pgData: string;
  /** Set when the data lives outside DATA_DIR: why, for the start log. */
  movedBecause?: string;
}

const hasCluster = (dir: string) => fs.existsSync(path.join(dir, 'PG_VERSION'));

/** A directory name that tells a person which DATA_DIR the data belongs to, unique so a recreated DATA_DIR never meets an old database. */
function relocatedName(dataDir: string): string {
  // The end of the path is the part that tells DATA_DIRs apart.
  const slug = dataDir.replace(/[^A-Za-z0-9]+/g, '-').slice(-60).replace(/^-+|-+$/g, '') || 'root';
  return `${slug}-${crypto.randomBytes(4).toString('hex')}`;
}

/**
 * Where the Postgres data of DATA_DIR lives. `DATA_DIR/postgres` is either the data itself
 * (the normal case) or a symlink to it. The symlink is made when the console runs as root and
 * the postgres user cannot enter DATA_DIR (it sits under /root or a 0700 directory): the
 * data then goes to `<systemDir>/postgres-data/<name>`, a directory that user can reach,
 * and DATA_DIR keeps the symlink, so `ls -l DATA_DIR` shows where the data is and every
 * later start finds it there. The console's own files (lock, secrets) stay in DATA_DIR.
 *
 * Existing data is never moved: a database already in DATA_DIR/postgres that the postgres
 * user cannot reach is refused with the commands that would move it.
 */
export function locatePostgresData(dataDir: string, who: RunAs | null, systemDir: string): DataLocation {
  const link = path.join(dataDir, 'postgres');
  const stat = fs.lstatSync(link, { throwIfNoEntry: false });

  if (stat?.isSymbolicLink()) {
    const target = path.resolve(dataDir, fs.readlinkSync(link));
    if (!fs.existsSync(target)) {
      throw new EmbeddedPostgresError(
        `${link} points at ${target}, which does not exist`,
        `If that database was removed on purpose, delete the link (rm ${link}) to start with an empty one; otherwise restore ${target}. ${OWN_POSTGRES}`,
      );
    }
    const real = fs.realpathSync(target);
    const blocked = who && firstBlockedDir(path.dirname(real), who);
    if (blocked) {
      throw new EmbeddedPostgresError(
        `the Postgres data at ${real} (linked from ${link}) is out of reach of the "${who.name}" user: it may not enter ${blocked}`,
        `Move the data to a directory that user can reach and point the link there. ${OWN_POSTGRES}`,
      );
    }
    return { pgData: real, movedBecause: `${link} links to it` };
  }

  // Not root: Postgres runs as the console's own user, which can reach its own files.
  if (!who) return { pgData: link };
  const blocked = firstBlockedDir(dataDir, who);
  if (!blocked) return { pgData: link };

  if (stat && hasCluster(link)) {
    const suggested = path.join(systemDir, 'postgres-data', relocatedName(dataDir));
    throw new EmbeddedPostgresError(
      `the "${who.name}" user, which Postgres runs as, may not enter ${blocked}, so it cannot reach the database in ${link}`,
      `Move the database where it can and leave a link (mkdir -p ${path.dirname(suggested)} && chmod 755 ${systemDir} ${path.dirname(suggested)} && mv ${link} ${suggested} && ln -s ${suggested} ${link}); the console then uses it there. ${OWN_POSTGRES}`,
    );
  }
  if (stat) {
    // An empty directory left by an earlier start that failed on this very problem holds
    // nothing; anything else is not ours to delete.
    if (!stat.isDirectory() || fs.readdirSync(link).length > 0) {
      throw new EmbeddedPostgresError(
        `${link} holds files but no Postgres database, and the "${who.name}" user may not enter ${blocked} to create one there`,
        `Move ${link} away or delete it: the console then keeps its database where that user can reach it and links it from ${link}. ${OWN_POSTGRES}`,
      );
    }
    fs.rmdirSync(link);
  }

  const parent = path.join(systemDir, 'postgres-data');
  mkdirOpen(parent);
  const parentBlocked = firstBlockedDir(parent, who);
  if (parentBlocked) {
    throw new EmbeddedPostgresError(
      `the "${who.name}" user, which Postgres runs as, may not enter ${blocked} (where DATA_DIR is) nor ${parentBlocked} (where the data would go instead)`,
      `Set DATA_DIR or EMBEDDED_POSTGRES_DIR to a directory that user can reach (EMBEDDED_POSTGRES_DIR defaults to /var/lib/vm-orchestrator). ${OWN_POSTGRES}`,
    );
  }
  const pgData = path.join(parent, relocatedName(dataDir));
  // initdb wants an empty directory owned by the user it runs as, and makes it 0700 itself.
  fs.mkdirSync(pgData, { mode: 0o700 });
  fs.chownSync(pgData, who.uid, who.gid);
  // The link is made after the directory, so a start killed in between leaves an unused
  // empty directory behind, never a link to nothing.
  fs.symlinkSync(pgData, link);
  return { pgData, movedBecause: `the "${who.name}" user may not enter ${blocked}` };
}
