import { spawn } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { MakeTarget, TargetList } from '../../src/lib/shared/projects.ts';
import { AppError, conflict } from '../platform/errors.ts';
import { childEnv } from '../sources/child-env.ts';
import { signalGroup } from '../sources/process-group.ts';

const TIMEOUT_MS = 10_000;
/** make's database of a large tree runs to a few MB; past this something is wrong. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
const MAX_STDERR_BYTES = 64 * 1024;
const MAX_MAKEFILE_BYTES = 4 * 1024 * 1024;
/** The names GNU make looks for, in its own order. */
export const MAKEFILE_NAMES = ['GNUmakefile', 'makefile', 'Makefile'];

export interface DiscoveryOptions {
  /** Project alias: an executable of that name on PATH is asked first (mkcli wrappers). */
  alias?: string;
  /** PATH for the wrapper lookup and for the processes run; the server's own by default. */
  path?: string;
  timeoutMs?: number;
  maxOutputBytes?: number;
}

export interface Discovery extends TargetList {
  /** Absolute paths whose change makes this list stale: the makefiles read, or the wrapper run. */
  inputs: string[];
}

/**
 * Lists the targets a user may run in `dir`: from the project's mkcli wrapper
 * (`<alias> --list-targets`) when there is one that answers, otherwise from make's own
 * database, so included makefiles and conditionals count exactly as make sees them.
 * Reading a Makefile evaluates it (`$(shell …)` runs), so this runs with the same
 * environment allow-list, process group, timeout and output cap as any job.
 */
export async function discoverTargets(dir: string, opts: DiscoveryOptions = {}): Promise<Discovery> {
  await assertDirectory(dir);
  const searchPath = opts.path ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
  const run = (argv: string[]) => capture(argv, {
    cwd: dir,
    env: childEnv({ LC_ALL: 'C', PATH: searchPath }),
    timeoutMs: opts.timeoutMs ?? TIMEOUT_MS,
    maxBytes: opts.maxOutputBytes ?? MAX_OUTPUT_BYTES,
  });

  if (opts.alias) {
    const wrapper = await findExecutable(opts.alias, searchPath);
    if (wrapper) {
      // A wrapper that fails or prints nothing is not the project's (an alias like `test`
      // finds /usr/bin/test, which exits 0 silently): fall back to make.
      const answer = await run([wrapper, '--list-targets']).catch(() => null);
      const targets = answer?.code === 0 ? parseTargetList(answer.stdout) : [];
      if (targets.length) return { targets, source: 'wrapper', inputs: [wrapper] };
    }
  }

  if (!(await findMakefile(dir))) {
    return { targets: [], source: 'none', reason: `No Makefile in ${dir} (looked for ${MAKEFILE_NAMES.join(', ')})`, inputs: [] };
  }

  const result = await run(['make', '-pRrq', '-C', dir]).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw conflict('make is not installed on the server (not found on PATH)');
    throw err;
  });
  // -q exits 1 when a goal is out of date, which is the normal case. 2 is an error, but
  // a broken default goal (a missing prerequisite) still leaves a complete database; only
  // an error while reading the makefiles makes the list untrustworthy.
  const readFailed = result.code === 2 && MAKEFILE_READ_ERROR.some((re) => re.test(result.stderr));
  if (readFailed || result.code === null || result.code > 2 || !result.stdout.includes('\n# Files\n')) {
    const text = result.stderr.trim().slice(0, 2000) || `make exited with ${result.code ?? result.signal}`;
    throw conflict(`make could not read the Makefile in ${dir}: ${text}`, { stderr: text });
  }

  const { targets, makefiles } = parseMakeDatabase(result.stdout);
  const inputs = [...new Set(makefiles.map((f) => path.resolve(dir, f)))];
  const descriptions = await readDescriptions(inputs);
  return {
    targets: sortUnique(targets.map((name) => withDescription(name, descriptions.get(name)))),
    source: 'make',
    inputs,
  };
}

/** make's messages for a makefile it could not parse, include, or remake (LC_ALL=C). */
const MAKEFILE_READ_ERROR = [
  /^\S[^\n]*?:\d+: \*\*\* /m, // Makefile:3: *** missing separator.  Stop.   (and $(error …))
  /^\S[^\n]*?:\d+: [^\n]*No such file or directory/m, // a missing include
  /^make(?:\[\d+\])?: \*\*\* \[/m, // the recipe remaking an included makefile failed
];

async function assertDirectory(dir: string): Promise<void> {
  let stat;
  try {
    stat = await fs.stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw conflict(`Project directory ${dir} does not exist`);
    throw conflict(`Project directory ${dir} cannot be read (${code})`);
  }
  if (!stat.isDirectory()) throw conflict(`Project path ${dir} is not a directory`);
}

async function findMakefile(dir: string): Promise<string | null> {
  for (const name of MAKEFILE_NAMES) {
    const file = path.join(dir, name);
    if (await fs.stat(file).then((s) => s.isFile(), () => false)) return file;
  }
  return null;
}

/** PATH lookup done here so the PATH is the caller's; empty and relative entries (the cwd) are skipped. */
export async function findExecutable(name: string, searchPath: string): Promise<string | null> {
  if (!name || name.includes('/')) return null;
  for (const dir of searchPath.split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue;
    const file = path.join(dir, name);
    try {
      if ((await fs.stat(file)).isFile()) {
        await fs.access(file, fsc.X_OK);
        return file;
      }
    } catch {
      // not here, or not executable: keep looking, as the shell does
    }
  }
  return null;
}

/**
 * Target names from make's printed database (`make -p`): rule lines in the "# Files"
 * section. Files make only knows as prerequisites are marked "# Not a target:".
 */
export function parseMakeDatabase(db: string): { targets: string[]; makefiles: string[] } {
  const makefiles = /^MAKEFILE_LIST :?= *(.*)$/m.exec(db)?.[1].trim().split(/\s+/).filter(Boolean) ?? [];
  const hidden = new Set([...MAKEFILE_NAMES, ...makefiles]);
  const targets = new Set<string>();
  let inFiles = false;
  let notATarget = false;
  for (const line of db.split('\n')) {
    if (!inFiles) {
      inFiles = line === '# Files';
      continue;
    }
    if (line.startsWith('# files hash-table stats') || line === '# VPATH Search Paths') break;
    if (line === '# Not a target:') {
      notATarget = true;
      continue;
    }
    if (line === '' || line.startsWith('#') || line.startsWith('\t')) continue;
    // `name: deps` or `name:: deps`; make prints an escaped colon bare (`a:b:`), which the
    // required space after the colon rules out.
    const name = /^([^\s:#=]+)::?(?:\s|$)/.exec(line)?.[1];
    if (name && !notATarget && isListable(name) && !hidden.has(name)) targets.add(name);
    notATarget = false;
  }
  return { targets: [...targets], makefiles };
}

/** Special (`.PHONY`), pattern (`%`), path, variable-named and option-like names are not offered. */
export function isListable(name: string): boolean {
  return !!name && !name.startsWith('.') && !name.startsWith('-') && !/[%/$\s]/.test(name);
}

/**
 * The self-documenting Makefile convention: `target: deps ## description`. Variable
 * assignments (`X := a ## b`, `X = a:b`) are not rules and must not match.
 */
const DESCRIBED_RULE = /^([^\s:#=][^:#=]*?)\s*::?(?![:=])[^#]*?##\s*(.*?)\s*$/;

export function parseDescriptions(text: string, into = new Map<string, string>()): Map<string, string> {
  for (const line of text.split(/\r?\n/)) {
    const m = DESCRIBED_RULE.exec(line);
    if (!m || !m[2]) continue;
    for (const name of m[1].split(/\s+/)) if (name && !into.has(name)) into.set(name, m[2]);
  }
  return into;
}

async function readDescriptions(files: string[]): Promise<Map<string, string>> {
  const descriptions = new Map<string, string>();
  for (const file of files) {
    try {
      if ((await fs.stat(file)).size > MAX_MAKEFILE_BYTES) continue;
      parseDescriptions(await fs.readFile(file, 'utf8'), descriptions);
    } catch {
      // make read it a moment ago; if it is gone now the targets simply have no description
    }
  }
  return descriptions;
}

/** A wrapper's `--list-targets`: `name`, or `name` then a tab, two or more spaces, or ` ## `, then a description. */
export function parseTargetList(text: string): MakeTarget[] {
  const targets: MakeTarget[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?)(?:\s*##\s*|\t\s*| {2,})(.*)$/.exec(line);
    const name = m ? m[1] : line;
    if (isListable(name)) targets.push(withDescription(name, m?.[2].trim()));
  }
  return sortUnique(targets);
}

const withDescription = (name: string, description?: string): MakeTarget => (description ? { name, description } : { name });

function sortUnique(targets: MakeTarget[]): MakeTarget[] {
  const byName = new Map<string, MakeTarget>();
  for (const t of targets) if (!byName.has(t.name) || (!byName.get(t.name)!.description && t.description)) byName.set(t.name, t);
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

interface Captured {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs argv (no shell) in its own process group and collects its output. On timeout or
 * too much output the whole group is killed, so a `$(shell …)` that hangs or forks
 * cannot outlive the request.
 */
function capture(argv: string[], o: { cwd: string; env: Record<string, string>; timeoutMs: number; maxBytes: number }): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let failure: AppError | null = null;
    let settled = false;
    const shown = argv.map((a) => path.basename(a)).slice(0, 2).join(' ');
    const fail = (e: AppError) => {
      failure ??= e;
      if (child.pid) signalGroup(child.pid, 'SIGKILL');
    };
    const timer = setTimeout(() => fail(conflict(`${shown} in ${o.cwd} did not finish within ${o.timeoutMs / 1000} s`)), o.timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > o.maxBytes) fail(conflict(`${shown} in ${o.cwd} printed more than ${o.maxBytes} bytes`));
      else out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errBytes < MAX_STDERR_BYTES) err.push(b);
      errBytes += b.length;
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      if (!settled) reject(e);
      settled = true;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      if (failure) return reject(failure);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}
