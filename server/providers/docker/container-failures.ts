import type Docker from 'dockerode';
import { AppError } from '../../platform/errors.ts';
import { containerLogTail } from './container-logs.ts';
import type { SshBannerTimeout } from './container-ssh.ts';
import { LOOPBACK } from './container-state.ts';

/** Errors for a container that died or whose sshd never answered, with the last lines of its log. */
export async function exitedError(container: Docker.Container, info: Docker.ContainerInspectInfo, during: string): Promise<AppError> {
  const name = info.Name.replace(/^\//, '');
  const logTail = await containerLogTail(container);
  const tail = logTailText(logTail, '');
  if (info.State.OOMKilled) {
    const limitMb = Math.round((info.HostConfig.Memory ?? 0) / 2 ** 20);
    return new AppError(502, 'vm_out_of_memory', `Container ${name} ran out of memory (limit ${limitMb} MB) and was killed while ${during}; give the VM more memory${tail}`, {
      limitMb,
      logTail,
    });
  }
  return new AppError(502, 'vm_exited', `Container ${name} exited with code ${info.State.ExitCode} while ${during}${info.State.Error ? ` (${info.State.Error})` : ''}${tail}`, {
    exitCode: info.State.ExitCode,
    logTail,
  });
}

export async function sshTimeout(container: Docker.Container, name: string, err: SshBannerTimeout): Promise<AppError> {
  const logTail = await containerLogTail(container);
  const tail = logTailText(logTail, ' The container log is empty.');
  return new AppError(
    504,
    'vm_ssh_timeout',
    `sshd in container ${name} did not answer on ${LOOPBACK}:${err.port} within ${Math.round(err.timeoutMs / 1000)} s (${err.attempts} attempts; last: ${err.lastFailure}). The container is left running for a retry; does the image run sshd?${tail}`,
    { port: err.port, attempts: err.attempts, lastFailure: err.lastFailure, logTail },
  );
}

function logTailText(lines: string[], whenEmpty: string): string {
  return lines.length ? `\nLast lines of the container log:\n${lines.map((l) => `  ${l}`).join('\n')}` : whenEmpty;
}
