import type Docker from 'dockerode';
import { AppError } from '../../platform/errors.ts';

/**
 * Where the Docker Engine API is reached and a reachability check whose error says how to fix
 * it. dockerode resolves DOCKER_HOST itself; this only reads back what it chose so an operator
 * sees the socket or address that failed instead of a bare ECONNREFUSED.
 */
export function describeDockerEndpoint(docker: Docker): string {
  const modem = docker.modem as unknown as {
    host?: string;
    port?: string | number;
    protocol?: string;
    socketPath?: unknown;
  };
  if (modem.host) return `${modem.protocol ?? 'http'}://${modem.host}${modem.port ? `:${modem.port}` : ''}`;
  // Without DOCKER_HOST the modem holds a resolver function, not a path: name the usual socket.
  if (typeof modem.socketPath === 'string') return `unix://${modem.socketPath}`;
  return 'unix:///var/run/docker.sock';
}

export function dockerUnreachable(docker: Docker, cause: unknown): AppError {
  const endpoint = describeDockerEndpoint(docker);
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new AppError(
    503,
    'docker_unreachable',
    `Docker Engine is not answering at ${endpoint} (${reason}). Start dockerd, or set DOCKER_HOST to a running engine.`,
    { endpoint, reason },
  );
}

type PingWithOptions = (opts: { abortSignal?: AbortSignal }) => Promise<unknown>;

/**
 * Resolves when the engine answers `GET /_ping`; throws `docker_unreachable` otherwise. The
 * deadline matters for a TCP DOCKER_HOST that drops packets: without it the ping never settles.
 */
export async function assertDockerReachable(docker: Docker, timeoutMs = 5000): Promise<void> {
  try {
    // dockerode accepts an abort signal here although its type definitions do not say so.
    await (docker.ping as unknown as PingWithOptions).call(docker, { abortSignal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw dockerUnreachable(docker, err);
  }
}
