import fs from 'node:fs';
import path from 'node:path';

/**
 * The identity Postgres runs as when the console runs as root. Node's spawn({ uid, gid })
 * drops every supplementary group (libuv calls setgroups(0) before setuid), so only the
 * owner, the primary group and "others" bits decide what that process may open.
 */
export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

export const READ = 4;
export const WRITE = 2;
export const SEARCH = 1;

/** Whether `who` holds every one of `bits` on a file with this owner and mode (owner, else group, else others: the first class that matches decides). */
export function permits(st: Pick<fs.Stats, 'mode' | 'uid' | 'gid'>, who: Pick<RunAs, 'uid' | 'gid'>, bits: number): boolean {
  const shift = st.uid === who.uid ? 6 : st.gid === who.gid ? 3 : 0;
  return ((st.mode >> shift) & bits) === bits;
}

/**
 * The first directory, walking from `/` down to `dir` (included), that `who` may not pass
 * through, or null when the whole way is open. This is the walk the kernel does for that
 * user on every open and exec. `dir` must exist; symlinks on the way are resolved first,
 * because the kernel checks the directories of the target, not of the link.
 */
export function firstBlockedDir(dir: string, who: Pick<RunAs, 'uid' | 'gid'>): string | null {
  const real = fs.realpathSync(dir);
  const { root } = path.parse(real);
  let current = root;
  const steps = real.slice(root.length).split(path.sep).filter(Boolean);
  for (let i = 0; ; i++) {
    if (!permits(fs.statSync(current), who, SEARCH)) return current;
    if (i === steps.length) return null;
    current = path.join(current, steps[i]);
  }
}

/**
 * The first entry of the tree under `top` that `who` cannot use as a program tree needs:
 * every directory on the way and inside searchable and readable, every file readable, and
 * every file that is executable for its owner also executable for `who`. Symlinks inside the
 * tree are skipped (what they point at is checked as its own entry). Null when all is usable.
 */
export function firstUnusableEntry(top: string, who: Pick<RunAs, 'uid' | 'gid'>): string | null {
  const blocked = firstBlockedDir(top, who);
  if (blocked) return blocked;
  const walk = (dir: string): string | null => {
    if (!permits(fs.statSync(dir), who, READ | SEARCH)) return dir;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) continue;
      if (entry.isDirectory()) {
        const inner = walk(full);
        if (inner) return inner;
        continue;
      }
      const st = fs.statSync(full);
      const ownerMayRun = (st.mode & 0o100) !== 0;
      if (!permits(st, who, ownerMayRun ? READ | SEARCH : READ)) return full;
    }
    return null;
  };
  return walk(fs.realpathSync(top));
}
