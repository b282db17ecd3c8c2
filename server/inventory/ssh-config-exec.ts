/**
 * The default runner for `Match exec`: like ssh's execute_in_shell, the command goes to
 * `$SHELL -c` (/bin/sh when SHELL is unset) with stdin and stdout on /dev/null, and only
 * exit status 0 counts as a match. A command killed by a signal is an error, as in ssh;
 * unlike ssh, one that runs past the time limit is killed rather than waited for.
 */
import { spawn } from 'node:child_process';
import type { Environment } from './ssh-config-expand.ts';

const EXEC_TIMEOUT_MS = 10_000;

export function shellExec(env: Environment, timeoutMs = EXEC_TIMEOUT_MS): (command: string) => Promise<boolean> {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  const shell = env.SHELL ?? '/bin/sh';
  return (command) =>
    new Promise<boolean>((resolve, reject) => {
      const child = spawn(shell, ['-c', command], { stdio: 'ignore', env: childEnv });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (signal !== null) reject(new Error(`exited abnormally (${signal})`));
        else resolve(code === 0);
      });
    });
}
