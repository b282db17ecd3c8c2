import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ALIAS, type RegistryError } from '../../src/lib/shared/projects.ts';

export interface RegistryEntry {
  alias: string;
  /** Absolute, normalised; `~` expanded and relative paths resolved against the registry's folder. */
  dir: string;
  line: number;
}

export interface Registry {
  entries: RegistryEntry[];
  errors: RegistryError[];
}

export const defaultRegistryPath = (home = os.homedir()) => path.join(home, '.config', 'mkcli', 'registry');

/** `~` and `~/…` only: `~user` would need the password database and mkcli does not write it. */
export function expandHome(p: string, home = os.homedir()): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

/**
 * Parses the mkcli registry: one `alias=dir` per line, `#` comments and blank lines
 * ignored. A bad line is reported and skipped so one typo never hides every project;
 * on a duplicate alias the first line wins, as mkcli's own lookup does.
 */
export function parseRegistry(text: string, registryPath: string, home = os.homedir()): Registry {
  const base = path.dirname(path.resolve(registryPath));
  const entries: RegistryEntry[] = [];
  const errors: RegistryError[] = [];
  const firstLine = new Map<string, number>();

  text.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const text = raw.trim();
    if (!text || text.startsWith('#')) return;
    const bad = (reason: string) => errors.push({ line, text, reason });

    const eq = text.indexOf('=');
    if (eq < 0) return bad('expected alias=dir');
    const alias = text.slice(0, eq).trim();
    const dir = text.slice(eq + 1).trim();
    if (!alias) return bad('empty alias');
    if (!dir) return bad('empty directory');
    if (!PROJECT_ALIAS.test(alias)) return bad('alias may use letters, digits, _ . - (1-64 characters)');
    if (/^~[^/]/.test(dir)) return bad('only ~ and ~/ are expanded, not ~user');
    const first = firstLine.get(alias);
    if (first !== undefined) return bad(`duplicate alias "${alias}" (first defined on line ${first})`);

    firstLine.set(alias, line);
    entries.push({ alias, dir: path.resolve(base, expandHome(dir, home)), line });
  });
  return { entries, errors };
}

/** Reads and parses the registry. No file means no registry projects, not an error. */
export async function readRegistry(registryPath: string, home = os.homedir()): Promise<Registry> {
  const file = expandHome(registryPath, home);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { entries: [], errors: [] };
    return { entries: [], errors: [{ line: 0, text: file, reason: `cannot read the registry file (${code ?? String(err)})` }] };
  }
  return parseRegistry(text, file, home);
}
