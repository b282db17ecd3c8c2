import fs from 'node:fs/promises';
import path from 'node:path';
import { parseEnvironment, type ParsedEnvironment } from './environments.ts';

export interface EnvironmentsSnapshot {
  /** Absolute path of the environments folder. */
  dir: string;
  /** False when the folder does not exist (no environments, not an error). */
  exists: boolean;
  environments: ParsedEnvironment[];
  /** Changes whenever any config.yml (or the set of folders) changes on disk. */
  signature: string;
}

const CONFIG_FILE = 'config.yml';

/**
 * Reads `<dir>/<env>/config.yml` for every environment folder. Files are re-parsed only
 * when their size, mtime or inode changed, so calling `read()` on every request is cheap
 * and an edit on disk is seen by the next read (editors that save by rename included).
 */
export class EnvironmentsSource {
  readonly dir: string;
  private cache = new Map<string, { stamp: string; env: ParsedEnvironment }>();

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  async read(): Promise<EnvironmentsSnapshot> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(this.dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { dir: this.dir, exists: false, environments: [], signature: 'missing' };
      throw err;
    }
    const names = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
    const environments: ParsedEnvironment[] = [];
    const stamps: string[] = [];
    for (const name of names) {
      const rel = `${name}/${CONFIG_FILE}`;
      const file = path.join(this.dir, name, CONFIG_FILE);
      const st = await fs.stat(file).catch((err: NodeJS.ErrnoException) => err);
      if (st instanceof Error) {
        const message = st.code === 'ENOENT' ? `no ${CONFIG_FILE} in ${name}/` : `cannot read ${rel}: ${st.message}`;
        stamps.push(`${name}:none`);
        environments.push({ name, file: rel, template: null, hosts: [], error: { file: rel, message } });
        continue;
      }
      const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
      stamps.push(`${name}:${stamp}`);
      const cached = this.cache.get(name);
      if (cached?.stamp === stamp) {
        environments.push(cached.env);
        continue;
      }
      let env: ParsedEnvironment;
      try {
        env = parseEnvironment(name, await fs.readFile(file, 'utf8'), rel);
      } catch (err) {
        env = { name, file: rel, template: null, hosts: [], error: { file: rel, message: `cannot read ${rel}: ${(err as Error).message}` } };
      }
      this.cache.set(name, { stamp, env });
      environments.push(env);
    }
    for (const name of this.cache.keys()) if (!names.includes(name)) this.cache.delete(name);
    return { dir: this.dir, exists: true, environments, signature: stamps.join('|') };
  }
}
