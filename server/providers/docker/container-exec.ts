import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';

/**
 * Runs a command inside a running container through the Engine API (`POST
 * /containers/{id}/exec` + start, hijacked) and collects its output and exit status. The argv
 * is an array handed to the engine as is: no shell, so nothing in it is ever interpreted.
 * Exec needs a running container (a stopped one answers 409 "is not running").
 */

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** `user`, `uid` or `uid:gid`; the image's default (root here) when absent. */
  user?: string;
  /** Gives up (and rejects) when the command has not finished by then. */
  timeoutMs?: number;
}

const DEFAULT_EXEC_TIMEOUT_MS = 30_000;

export async function execInContainer(docker: Docker, container: Docker.Container, cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const exec = await container.exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: false,
    Tty: false,
    ...(opts.user ? { User: opts.user } : {}),
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough().on('data', (c: Buffer) => out.push(c));
  const stderr = new PassThrough().on('data', (c: Buffer) => err.push(c));
  // Without a TTY the engine frames stdout and stderr with 8-byte headers; the modem splits them.
  docker.modem.demuxStream(stream, stdout, stderr);

  const timeoutMs = opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`${cmd[0]} did not finish within ${timeoutMs} ms inside the container`));
    }, timeoutMs);
    const done = (error?: Error) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    stream.once('end', () => done());
    stream.once('close', () => done());
    stream.once('error', done);
  });

  // The stream ends when the process closes its output; the engine may record the exit status a
  // moment later, so read it until it stops saying Running.
  for (let attempt = 0; ; attempt++) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) {
      return { exitCode: info.ExitCode, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
    }
    if (attempt >= 50) throw new Error(`${cmd[0]} inside the container reported no exit status`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
