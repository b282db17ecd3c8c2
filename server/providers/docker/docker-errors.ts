import type Docker from 'dockerode';
import { AppError } from '../../platform/errors.ts';
import { dockerUnreachable } from './docker-engine.ts';

/**
 * dockerode rejects with the modem's error: `statusCode` and the engine's `json.message` for an
 * HTTP answer, a Node `code` (ECONNREFUSED, ENOENT …) when the socket itself failed. These
 * helpers read that shape and turn it into the console's AppErrors.
 */

interface ModemError {
  statusCode?: number;
  code?: string;
  reason?: string;
  json?: { message?: string } | null;
  message?: string;
}

const CONNECTION_FAILURES = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

export function httpStatusOf(err: unknown): number | undefined {
  return (err as ModemError | null)?.statusCode;
}

export function isNotFound(err: unknown): boolean {
  return httpStatusOf(err) === 404;
}

/** 304 from start/stop: the container is already where it was asked to go. */
export function isNotModified(err: unknown): boolean {
  return httpStatusOf(err) === 304;
}

/** The engine's own sentence, without dockerode's "(HTTP code 500) server error -" prefix. */
export function engineMessage(err: unknown): string {
  const e = err as ModemError | null;
  const fromJson = e?.json?.message;
  if (typeof fromJson === 'string' && fromJson.trim()) return fromJson.trim();
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Any engine failure as an AppError: the socket failing becomes `docker_unreachable` (which names
 * the endpoint and how to fix it), a refused request says what was being done and why.
 * AppErrors and aborts pass through unchanged.
 */
export function engineFailure(docker: Docker, err: unknown, doing: string): Error {
  if (err instanceof AppError) return err;
  if ((err as Error | null)?.name === 'AbortError') return err as Error;
  const e = err as ModemError | null;
  if (e?.code && CONNECTION_FAILURES.has(e.code) && e.statusCode === undefined) return dockerUnreachable(docker, err);
  const status = e?.statusCode;
  const message = engineMessage(err);
  // 400 is the engine refusing the VM's settings (too little memory, more CPUs than the host has).
  if (status === 400) return new AppError(422, 'vm_spec_refused', `Docker Engine refused to ${doing}: ${message}`, { engineStatus: status });
  return new AppError(502, 'docker_engine_error', `Docker Engine failed to ${doing}: ${message}`, {
    ...(status ? { engineStatus: status } : {}),
  });
}
