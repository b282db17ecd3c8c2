import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * `npm start` (and the benchmarks' browser rows) build the UI only when the build is missing
 * or older than any UI source, so a second start is instant and a pulled change is never
 * served stale.
 */
const root = path.resolve(import.meta.dirname, '../..');
const marker = path.join(root, 'build', 'handler.js');
const inputs = ['src', 'static', 'svelte.config.js', 'vite.config.ts', 'package-lock.json'];

function newest(p: string): number {
  const full = path.join(root, p);
  if (!fs.existsSync(full)) return 0;
  const st = fs.statSync(full);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const entry of fs.readdirSync(full)) max = Math.max(max, newest(path.join(p, entry)));
  return max;
}

const built = fs.existsSync(marker) ? fs.statSync(marker).mtimeMs : 0;
if (built && inputs.every((p) => newest(p) <= built)) process.exit(0);
console.log('Building the UI (no build yet, or its sources changed)…');
const r = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
