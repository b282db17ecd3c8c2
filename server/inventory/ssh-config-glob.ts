/**
 * Include path expansion as glob(3) does it for OpenSSH (GLOB_TILDE, sorted, escapes on):
 * `~` takes $HOME — not the password database, unlike every other `~` in ssh_config —
 * `*`, `?` and `[...]` never match a leading dot, results come back sorted bytewise (ssh
 * runs in the C collation), and a pattern without wildcards yields the path only if it
 * exists.
 */
import fs from 'node:fs/promises';
import { lookupAccount } from './ssh-config-accounts.ts';

/** Whether glob(3) would treat the pattern as one to expand rather than a literal path. */
function hasMagic(pattern: string): boolean {
  let open = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?') return true;
    else if (c === '[') open = true;
    else if (c === ']' && open) return true;
  }
  return false;
}

function unescape(segment: string): string {
  return segment.replace(/\\(.)/gs, '$1');
}

const CLASSES: Record<string, string> = {
  alpha: 'A-Za-z', digit: '0-9', alnum: 'A-Za-z0-9', upper: 'A-Z', lower: 'a-z', space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t', punct: '!-\\/:-@\\[-`{-~', xdigit: '0-9A-Fa-f', cntrl: '\\x00-\\x1f\\x7f', print: ' -~', graph: '!-~',
};

function escapeRegex(c: string): string {
  return c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** A bracket expression starting at `start` ('['), as regex source, or null when unterminated. */
function bracket(pattern: string, start: number): { source: string; end: number } | null {
  let i = start + 1;
  let negate = false;
  if (pattern[i] === '!' || pattern[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  while (i < pattern.length && (pattern[i] !== ']' || first)) {
    first = false;
    const cls = /^\[:([a-z]+):\]/.exec(pattern.slice(i));
    if (cls && CLASSES[cls[1]]) {
      body += CLASSES[cls[1]];
      i += cls[0].length;
      continue;
    }
    let c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) c = pattern[++i];
    if (pattern[i + 1] === '-' && pattern[i + 2] !== undefined && pattern[i + 2] !== ']') {
      let hi = pattern[i + 2];
      let skip = 3;
      if (hi === '\\' && pattern[i + 3] !== undefined) {
        hi = pattern[i + 3];
        skip = 4;
      }
      body += `${escapeRegex(c)}-${escapeRegex(hi)}`;
      i += skip;
      continue;
    }
    body += escapeRegex(c);
    i++;
  }
  if (i >= pattern.length) return null;
  return { source: `[${negate ? '^' : ''}${body}]`, end: i };
}

/** fnmatch(3) with FNM_PERIOD for one path component. */
function componentMatcher(pattern: string): (name: string) => boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegex(pattern[++i]);
    else if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const b = bracket(pattern, i);
      if (b) {
        source += b.source;
        i = b.end;
      } else {
        source += '\\[';
      }
    } else source += escapeRegex(c);
  }
  const re = new RegExp(`^${source}$`, 's');
  const explicitDot = pattern.startsWith('.') || pattern.startsWith('\\.');
  return (name) => (!name.startsWith('.') || explicitDot) && re.test(name);
}

/** GLOB_TILDE: `~` and `~/…` take $HOME (the password database only when it is empty), `~user/…` that user's home. */
function expandTilde(pattern: string, envHome: string, passwdHome: string): string {
  if (!pattern.startsWith('~')) return pattern;
  const slash = pattern.indexOf('/');
  const name = slash < 0 ? pattern.slice(1) : pattern.slice(1, slash);
  const rest = slash < 0 ? '' : pattern.slice(slash);
  if (name === '') return (envHome !== '' ? envHome : passwdHome) + rest;
  const account = lookupAccount(unescape(name));
  return account ? account.home + rest : pattern; // an unknown user leaves the pattern as written
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch {
    return false;
  }
}

function join(dir: string, name: string): string {
  if (dir === '') return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** The paths an Include argument names, in the order ssh reads them. */
export async function globIncludePaths(pattern: string, envHome: string, passwdHome: string): Promise<string[]> {
  const expanded = expandTilde(pattern, envHome, passwdHome);
  if (!hasMagic(expanded)) {
    const literal = unescape(expanded);
    return (await exists(literal)) ? [literal] : [];
  }
  const segments = expanded.split('/');
  let candidates = [expanded.startsWith('/') ? '/' : ''];
  for (let s = expanded.startsWith('/') ? 1 : 0; s < segments.length; s++) {
    const segment = segments[s];
    const last = s === segments.length - 1;
    if (segment === '') continue;
    const next: string[] = [];
    if (!hasMagic(segment)) {
      for (const dir of candidates) next.push(join(dir, unescape(segment)));
    } else {
      const matches = componentMatcher(segment);
      for (const dir of candidates) {
        let names: string[];
        try {
          names = await fs.readdir(dir === '' ? '.' : dir);
        } catch {
          continue;
        }
        for (const name of names) if (matches(name)) next.push(join(dir, name));
      }
    }
    candidates = [];
    for (const path of next) {
      if (last ? await exists(path) : await isDirectory(path)) candidates.push(path);
    }
  }
  return candidates.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
