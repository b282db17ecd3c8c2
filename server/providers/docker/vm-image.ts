import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { AppError } from '../../platform/errors.ts';
import { childEnv } from '../../sources/child-env.ts';
import { terminateGroup } from '../../sources/process-group.ts';
import { assertDockerReachable, dockerUnreachable } from './docker-engine.ts';

/**
 * The default VM image: a Debian root filesystem with openssh-server, built from Debian's own
 * packages by mmdebstrap and imported as a single-layer image through the Engine API (no
 * registry, no Dockerfile, no `docker` CLI). Containers from it run sshd as their only process.
 */

/** Every image this console builds carries this label, so they can be listed and cleaned up. */
export const VM_IMAGE_LABEL = 'vm-orchestrator.image';
/** Bump the suffix whenever the build recipe below changes, so old VMs keep their old image. */
export const DEFAULT_VM_IMAGE = 'vm-orchestrator/debian-sshd:12-1';
export const VM_ENTRYPOINT_PATH = '/usr/local/sbin/vm-entrypoint';

/**
 * Host keys are made on first boot because the image ships none: otherwise every VM would share
 * one identity. `ssh-keygen -A` only creates missing keys, so a restarted VM keeps the key the
 * console pinned when it was created. sshd logs to stderr, which is the container log.
 */
const ENTRYPOINT_SCRIPT = `#!/bin/sh
set -e
ssh-keygen -A
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e
`;

export const DEFAULT_SUITE = 'bookworm';
/** Security updates matter for an image whose whole purpose is to run sshd. */
export const DEFAULT_APT_SOURCES = [
  'deb http://deb.debian.org/debian bookworm main',
  'deb http://deb.debian.org/debian bookworm-updates main',
  'deb http://deb.debian.org/debian-security bookworm-security main',
];

export interface VmImageBuildOptions {
  docker: Docker;
  /** `repo:tag`; defaults to DEFAULT_VM_IMAGE. */
  name?: string;
  suite?: string;
  /** One-line apt sources (`deb URL SUITE COMPONENTS`); they also end up in the image. */
  aptSources?: string[];
  /** One line per call: mmdebstrap's stderr and the import's progress, for a provisioning log. */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface BuiltVmImage {
  name: string;
  id: string;
  sizeBytes: number;
  seconds: number;
}

export async function imageExists(docker: Docker, name: string): Promise<boolean> {
  try {
    await docker.getImage(name).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw dockerUnreachable(docker, err);
  }
}

/** `registry:5000/a/b:tag` → repo `registry:5000/a/b`, tag `tag`; a missing tag means `latest`. */
export function splitImageName(name: string): { repo: string; tag: string } {
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) return { repo: name.slice(0, colon), tag: name.slice(colon + 1) };
  return { repo: name, tag: 'latest' };
}

/**
 * mmdebstrap's argv. Hooks are mmdebstrap's own mini-language: it runs the ones with shell
 * characters under `sh` with the chroot as `$1`. They are constants here; only the temp file
 * path is interpolated, and the caller checks it holds no whitespace.
 */
export function mmdebstrapArgs(suite: string, aptSources: string[], entrypointFile: string): string[] {
  return [
    '--variant=apt',
    '--format=tar',
    '--include=openssh-server',
    // Docs, man pages and translations are a third of the image and useless in a VM console;
    // the rules stay in /etc/dpkg/dpkg.cfg.d so packages installed later are trimmed too.
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/info/*',
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    '--dpkgopt=path-include=/usr/share/locale/locale.alias',
    `--customize-hook=upload ${entrypointFile} ${VM_ENTRYPOINT_PATH}`,
    `--customize-hook=chmod 0755 "$1${VM_ENTRYPOINT_PATH}"`,
    '--customize-hook=rm -f "$1"/etc/ssh/ssh_host_*',
    // Fails the build if a key survived (say, a future package regenerating them in a trigger).
    '--customize-hook=! ls "$1"/etc/ssh/ssh_host_* 2>/dev/null',
    suite,
    '-', // the tar goes to stdout and straight into the import request
    ...aptSources,
  ];
}

/** The `changes` of the import: what a Dockerfile would say after FROM scratch + ADD rootfs. */
function importChanges(tag: string): string[] {
  return [
    `CMD ["${VM_ENTRYPOINT_PATH}"]`,
    'EXPOSE 22/tcp',
    `LABEL ${VM_IMAGE_LABEL}=1`,
    `LABEL ${VM_IMAGE_LABEL}.version=${tag}`,
  ];
}

const MIRROR_TROUBLE =
  /Could not resolve|Temporary failure resolving|Failed to fetch|Unable to connect|Could not connect|Connection timed out|Connection refused|No route to host|Network is unreachable/i;
const STDERR_LINES_KEPT = 30;

export async function buildVmImage(opts: VmImageBuildOptions): Promise<BuiltVmImage> {
  const { docker, signal } = opts;
  const name = opts.name ?? DEFAULT_VM_IMAGE;
  const { repo, tag } = splitImageName(name);
  const suite = opts.suite ?? DEFAULT_SUITE;
  const aptSources = opts.aptSources ?? DEFAULT_APT_SOURCES;
  const progress = opts.onProgress ?? (() => {});
  const started = Date.now();

  // Checked first: a bootstrap of most of a minute whose tar has nowhere to go is wasted.
  await assertDockerReachable(docker);

  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'vm-image-'));
  try {
    // The path goes into an mmdebstrap hook, which splits its arguments on whitespace.
    if (/\s/.test(workDir)) throw new Error(`Temporary directory "${workDir}" holds whitespace; set TMPDIR to a plain path`);
    const entrypointFile = path.join(workDir, 'vm-entrypoint');
    await fs.writeFile(entrypointFile, ENTRYPOINT_SCRIPT, { mode: 0o755 });
    const args = mmdebstrapArgs(suite, aptSources, entrypointFile);
    progress(`Bootstrapping Debian ${suite} with openssh-server (mmdebstrap)`);
    const imageId = await bootstrapAndImport(docker, args, tag, aptSources, progress, signal);
    progress(`Tagging ${imageId} as ${name}`);
    await docker.getImage(imageId).tag({ repo, tag });
    const info = await docker.getImage(name).inspect();
    const seconds = (Date.now() - started) / 1000;
    progress(`Built ${name} (${info.Id}, ${(info.Size / 1e6).toFixed(1)} MB) in ${seconds.toFixed(1)} s`);
    return { name, id: info.Id, sizeBytes: info.Size, seconds };
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

/**
 * Streams mmdebstrap's tar into `POST /images/create?fromSrc=-` and returns the new image id.
 * The import is untagged; the caller tags it only after mmdebstrap exited cleanly, so a failed
 * or truncated build never replaces a good image under the same name.
 */
async function bootstrapAndImport(
  docker: Docker,
  args: string[],
  tag: string,
  aptSources: string[],
  progress: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<string> {
  signal?.throwIfAborted();
  const env = childEnv();
  // chroot, mount and dpkg live in sbin, which a non-login PATH may lack.
  env.PATH = `${env.PATH}:/usr/local/sbin:/usr/sbin:/sbin`;
  const child = spawn('mmdebstrap', args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });

  const stderrTail: string[] = [];
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > STDERR_LINES_KEPT) stderrTail.shift();
    progress(line);
  });

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, sig) => resolve({ code, signal: sig }));
  });

  const importAbort = new AbortController();
  const onAbort = () => {
    importAbort.abort();
    // SIGTERM first: mmdebstrap unmounts /proc and /dev from its chroot on the way out.
    if (child.pid) void terminateGroup(child.pid, 30_000);
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  const tarStream = countBytes(child.stdout, progress);
  const imported = importTar(docker, tarStream, tag, importAbort.signal, progress);
  // The import can fail while mmdebstrap still runs (abort, dockerd gone); its rejection is
  // read below, after the exit status, and must not count as unhandled meanwhile.
  imported.catch(() => {});

  try {
    let exit: { code: number | null; signal: NodeJS.Signals | null };
    try {
      exit = await exited;
    } catch (err) {
      await discardImport(docker, imported, importAbort);
      throw spawnFailure(err);
    }
    if (exit.code !== 0) {
      await discardImport(docker, imported, importAbort);
      signal?.throwIfAborted();
      throw bootstrapFailure(exit, stderrTail, aptSources);
    }
    return await imported;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * The engine turns whatever body it received into an image, even an empty or truncated tar
 * (measured: a failed bootstrap left a 0-byte image). Wait for that image's id and remove it;
 * abort the upload only if the engine has not answered within `graceMs`.
 */
async function discardImport(
  docker: Docker,
  imported: Promise<string>,
  importAbort: AbortController,
  graceMs = 30_000,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<null>((resolve) => {
    timer = setTimeout(() => {
      importAbort.abort();
      resolve(null);
    }, graceMs);
  });
  const leftover = await Promise.race([imported.catch(() => null), deadline]);
  clearTimeout(timer);
  if (leftover) await docker.getImage(leftover).remove({ force: true }).catch(() => {});
}

function importTar(
  docker: Docker,
  tar: NodeJS.ReadableStream,
  tag: string,
  abortSignal: AbortSignal,
  progress: (line: string) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const options = {
      changes: importChanges(tag),
      message: `vm-orchestrator ${tag}: Debian rootfs with openssh-server`,
      abortSignal,
    };
    docker.importImage(tar, options, (err, response) => {
      if (err || !response) return reject(importFailure(docker, err));
      let imageId: string | null = null;
      let failure: string | null = null;
      docker.modem.followProgress(
        response,
        (streamErr: Error | null) => {
          if (streamErr) return reject(importFailure(docker, streamErr));
          if (failure) return reject(importFailure(docker, new Error(failure)));
          if (!imageId) return reject(importFailure(docker, new Error('the engine reported no image id')));
          resolve(imageId);
        },
        (event: { status?: string; error?: string; errorDetail?: { message?: string } }) => {
          // Errors arrive as a 200 response whose stream carries {"error": …}, not as an HTTP status.
          if (event.error || event.errorDetail) failure = event.errorDetail?.message ?? event.error ?? 'import failed';
          else if (event.status?.startsWith('sha256:')) imageId = event.status;
          else if (event.status) progress(`docker import: ${event.status}`);
        },
      );
    });
  });
}

/** Passes the tar through unchanged, reporting every 25 MB so a long upload shows life. */
function countBytes(input: NodeJS.ReadableStream, progress: (line: string) => void): PassThrough {
  const step = 25 * 1024 * 1024;
  let sent = 0;
  let nextReport = step;
  const counter = new PassThrough();
  counter.on('data', (chunk: Buffer) => {
    sent += chunk.length;
    if (sent >= nextReport) {
      progress(`Sent ${Math.floor(sent / 1e6)} MB of root filesystem to the Docker Engine`);
      nextReport += step;
    }
  });
  input.pipe(counter);
  return counter;
}

function spawnFailure(err: unknown): Error {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    return new AppError(
      503,
      'vm_image_tool_missing',
      'mmdebstrap is not installed; it builds the VM image. Install the Debian package: apt-get install mmdebstrap',
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

function bootstrapFailure(
  exit: { code: number | null; signal: NodeJS.Signals | null },
  stderrTail: string[],
  aptSources: string[],
): AppError {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
  const details = { exitCode: exit.code, signal: exit.signal, stderr: stderrTail.join('\n') };
  if (stderrTail.some((line) => MIRROR_TROUBLE.test(line))) {
    const mirrors = [...new Set(aptSources.map((s) => s.split(/\s+/)[1]).filter(Boolean))];
    return new AppError(
      503,
      'vm_image_mirror_unreachable',
      `Could not download Debian packages from ${mirrors.join(', ')} (mmdebstrap ${how}). Check the network or choose a reachable mirror.`,
      { ...details, mirrors },
    );
  }
  const last = stderrTail.filter((l) => l.startsWith('E:')).at(-1) ?? stderrTail.at(-1) ?? '';
  return new AppError(500, 'vm_image_build_failed', `mmdebstrap ${how}: ${last}`, details);
}

function importFailure(docker: Docker, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES') return dockerUnreachable(docker, err);
  if ((err as Error | null)?.name === 'AbortError') return err as Error;
  const reason = err instanceof Error ? err.message : String(err);
  return new AppError(500, 'vm_image_import_failed', `The Docker Engine rejected the image import: ${reason}`, { reason });
}
