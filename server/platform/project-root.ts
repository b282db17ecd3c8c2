import fs from 'node:fs';
import path from 'node:path';

/**
 * The checkout's root directory (where package.json and migrations/ are). Found by walking
 * up from this file, so the same code works from server/ under tsx and from the compiled
 * bundle under .build/ (`npm start`), which sit at different depths.
 */
function findProjectRoot(): string {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'migrations'))) return dir;
    if (dir === path.dirname(dir)) throw new Error(`no project root (package.json and migrations/) above ${import.meta.dirname}`);
  }
}

export const PROJECT_ROOT = findProjectRoot();
