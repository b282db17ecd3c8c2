import { execFileSync } from 'node:child_process';
import { EmbeddedPostgresError, OWN_POSTGRES } from './start-error.ts';
import type { RunAs } from './reachability.ts';

/** Postgres refuses to run as root; as root we run it as this system user. */
export const POSTGRES_USER = 'postgres';

function idOf(flag: '-u' | '-g', name: string): number | null {
  try {
    return Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    return null;
  }
}

function groupExists(name: string): boolean {
  try {
    execFileSync('getent', ['group', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Who Postgres runs as: null when the console is not root (Postgres then runs as the
 * console's own user, which can reach its own files). As root: the `postgres` system user,
 * created when missing. The name is the one earlier versions (and the Debian packages) used,
 * so data directories they made keep their owner.
 */
export function postgresRunAs(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  if (idOf('-u', POSTGRES_USER) === null) {
    try {
      if (!groupExists(POSTGRES_USER)) execFileSync('groupadd', ['--system', POSTGRES_USER], { stdio: ['ignore', 'ignore', 'pipe'] });
      execFileSync('useradd', [
        '--system', '--gid', POSTGRES_USER, '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', POSTGRES_USER,
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const said = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim();
      throw new EmbeddedPostgresError(
        `Postgres may not run as root and there is no "${POSTGRES_USER}" user to run it as; creating one failed (${said})`,
        `Create it (useradd --system --user-group ${POSTGRES_USER}), or start the console as a user other than root. ${OWN_POSTGRES}`,
        { cause: err },
      );
    }
  }
  const uid = idOf('-u', POSTGRES_USER);
  const gid = idOf('-g', POSTGRES_USER);
  if (uid === null || gid === null) {
    throw new EmbeddedPostgresError(`the "${POSTGRES_USER}" user has no uid or group`, `Check it with: id ${POSTGRES_USER}. ${OWN_POSTGRES}`);
  }
  return { uid, gid, name: POSTGRES_USER };
}
