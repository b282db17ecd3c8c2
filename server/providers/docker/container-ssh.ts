import { createHash } from 'node:crypto';
import net from 'node:net';
import type Docker from 'dockerode';
import { AppError } from '../../platform/errors.ts';
import { execInContainer } from './container-exec.ts';

/**
 * When a container's sshd is ready, and which host keys it has.
 *
 * Readiness is the SSH banner (`SSH-2.0-…`) read from the published port, not a TCP connect:
 * docker-proxy accepts connections on the host port before sshd listens inside and then closes
 * them (measured: 14–16 such probes per boot). The host keys are read through the Engine API
 * (exec `cat`), so the console pins them without trusting the network on first use.
 */

const PROBE_TIMEOUT_MS = 3000;
const PROBE_INTERVAL_MS = 100;
/** RFC 4253 lets a server send lines before its version line; this bounds how much we read. */
const BANNER_MAX_BYTES = 8192;

export interface SshBannerWaitOptions {
  timeoutMs: number;
  signal: AbortSignal;
  /** Called about once a second between probes; throw to stop waiting (the container exited). */
  check?: () => Promise<void>;
}

export interface SshReady {
  banner: string;
  attempts: number;
  ms: number;
}

/** sshd did not send its banner in time; `lastFailure` says what the last probe saw. */
export class SshBannerTimeout extends Error {
  constructor(
    readonly port: number,
    readonly timeoutMs: number,
    readonly attempts: number,
    readonly lastFailure: string,
  ) {
    super(`no SSH banner on port ${port} within ${timeoutMs} ms (${attempts} probes; last: ${lastFailure})`);
  }
}

/** One connection: resolves with the banner line, or with why there was none. */
function probeBanner(host: string, port: number, signal: AbortSignal): Promise<{ banner: string } | { failure: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let received = '';
    const finish = (result: { banner: string } | { failure: string }) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish({ failure: 'aborted' });
    const timer = setTimeout(() => finish({ failure: `connected but no banner within ${PROBE_TIMEOUT_MS} ms` }), PROBE_TIMEOUT_MS);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      for (const line of received.split('\n').slice(0, -1)) {
        if (line.startsWith('SSH-')) return finish({ banner: line.replace(/\r$/, '') });
      }
      if (received.length > BANNER_MAX_BYTES) finish({ failure: 'no SSH version line in the first 8 KB' });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ failure: err.code ?? err.message }));
    socket.on('close', () => finish({ failure: 'connection closed before the SSH banner' }));
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Probes `host:port` until sshd's banner arrives. Rejects with the signal's reason on abort,
 * with whatever `check` throws, or with SshBannerTimeout after `timeoutMs`.
 */
export async function waitForSshBanner(host: string, port: number, opts: SshBannerWaitOptions): Promise<SshReady> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  let attempts = 0;
  let lastCheck = started;
  for (;;) {
    opts.signal.throwIfAborted();
    attempts++;
    const result = await probeBanner(host, port, opts.signal);
    opts.signal.throwIfAborted();
    if ('banner' in result) return { banner: result.banner, attempts, ms: Date.now() - started };
    if (Date.now() >= deadline) throw new SshBannerTimeout(port, opts.timeoutMs, attempts, result.failure);
    if (opts.check && Date.now() - lastCheck >= 1000) {
      lastCheck = Date.now();
      await opts.check();
    }
    await sleep(Math.min(PROBE_INTERVAL_MS, Math.max(0, deadline - Date.now())), opts.signal);
  }
}

export const HOST_KEY_FILES = [
  '/etc/ssh/ssh_host_ed25519_key.pub',
  '/etc/ssh/ssh_host_ecdsa_key.pub',
  '/etc/ssh/ssh_host_rsa_key.pub',
];

const KEY_LINE = /^((?:ssh|ecdsa|sk)-[A-Za-z0-9@.-]+)\s+([A-Za-z0-9+/]+={0,3})(?:\s|$)/;

/** OpenSSH public key lines as `type base64`, the comment dropped; lines that are not keys are skipped. */
export function parsePublicKeyLines(text: string): string[] {
  const keys: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = KEY_LINE.exec(line.trim());
    if (m) keys.push(`${m[1]} ${m[2]}`);
  }
  return keys;
}

/** `SHA256:…` as `ssh-keygen -l` prints it: safe to log, unlike the key itself. */
export function hostKeyFingerprint(keyLine: string): string {
  const blob = Buffer.from(keyLine.split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The container's host public keys. One `cat` of the three usual files: an image may lack a
 * type (cat then exits 1 but prints the others), so it fails only when no key came back.
 * Run it after the banner answered: the entrypoint writes the keys just before sshd starts.
 */
export async function readHostKeys(docker: Docker, container: Docker.Container): Promise<string[]> {
  const result = await execInContainer(docker, container, ['cat', ...HOST_KEY_FILES]);
  const keys = parsePublicKeyLines(result.stdout);
  if (keys.length === 0) {
    throw new AppError(502, 'vm_host_keys_unreadable', `Could not read the SSH host keys of container ${container.id.slice(0, 12)} (cat exited ${result.exitCode}: ${result.stderr.trim() || 'no output'})`, {
      exitCode: result.exitCode,
      stderr: result.stderr.slice(0, 2000),
    });
  }
  return keys;
}
