import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../platform/project-root.ts';
import { bundleServer, SERVER_BUNDLE } from './server-bundle.ts';

/**
 * `npm start` (and the benchmarks that run a server or a browser) build the UI and the
 * server only when a build is missing or older than any of its sources, so a second start
 * is instant and a pulled change is never served stale.
 */
const root = PROJECT_ROOT;

function newest(p: string): number {
  const full = path.join(root, p);
  if (!fs.existsSync(full)) return 0;
  const st = fs.statSync(full);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const entry of fs.readdirSync(full)) max = Math.max(max, newest(path.join(p, entry)));
  return max;
}

/** True when `output` exists and is newer than every input. */
function upToDate(output: string, inputs: string[]): boolean {
  const full = path.join(root, output);
  const built = fs.existsSync(full) ? fs.statSync(full).mtimeMs : 0;
  return built > 0 && inputs.every((p) => newest(p) <= built);
}

if (!upToDate('build/handler.js', ['src', 'static', 'svelte.config.js', 'vite.config.ts', 'package-lock.json'])) {
  console.log('Building the UI (no build yet, or its sources changed)…');
  const r = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
if (!upToDate(SERVER_BUNDLE, ['server', 'src/lib/shared', 'package-lock.json'])) {
  console.log('Compiling the server…');
  await bundleServer(root);
}
