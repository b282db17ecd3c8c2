import fs from 'node:fs';
import path from 'node:path';

/** Whether an executable called `name` is on PATH. */
function onPath(name: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * True when the tool a test needs is installed. When it is missing, CI fails (a suite
 * that silently skips proves nothing), while a developer machine skips with the package to
 * install.
 */
export function requireTool(name: string, debianPackage: string): boolean {
  if (onPath(name)) return true;
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  if (ci) throw new Error(`${name} is not installed (apt-get install ${debianPackage})`);
  console.warn(`SKIP: ${name} not installed (apt-get install ${debianPackage})`);
  return false;
}
