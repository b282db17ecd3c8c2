import { validationFailed } from '../platform/errors.ts';

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Variables that change how make itself runs (options, makefiles, the shell it uses). */
const MAKE_CONTROL = /^(MAKE.*|MFLAGS|GNUMAKEFLAGS|SHELL|VPATH|CURDIR|SUFFIXES)$/;
/**
 * make expands `$(shell …)` and backticks reach the recipe's shell, so a value with these
 * characters can run commands. Only callers who may run arbitrary commands anyway
 * (terminal permission) may pass them.
 */
const UNSAFE_VALUE = /[$`;&|<>(){}\\\n\r'"!*?#~]/;

export interface MakeArgvInput {
  target: string;
  variables?: Record<string, string>;
  /** The caller can open a shell anyway, so expansion in values grants nothing new. */
  mayRunCommands: boolean;
}

/** Builds make's argv: the target then NAME=value overrides. Throws validation_failed naming the bad part. */
export function makeArgv({ target, variables = {}, mayRunCommands }: MakeArgvInput): string[] {
  if (!target || target.startsWith('-') || /[\s$=]/.test(target)) {
    throw validationFailed(`"${target}" is not a valid target`);
  }
  const argv = ['make', target];
  for (const [name, value] of Object.entries(variables)) {
    if (!VAR_NAME.test(name)) throw validationFailed(`Variable name "${name}" is not valid`, { variable: name });
    if (typeof value !== 'string' || value.length > 4096) throw validationFailed(`Variable ${name} must be a string of at most 4096 characters`);
    if (!mayRunCommands && MAKE_CONTROL.test(name)) {
      throw validationFailed(`Variable ${name} controls make itself and cannot be set`, { variable: name });
    }
    if (!mayRunCommands && UNSAFE_VALUE.test(value)) {
      throw validationFailed(`Variable ${name} contains characters make or the shell would expand ($, backticks, quotes, ;|&<> …)`, { variable: name });
    }
    argv.push(`${name}=${value}`);
  }
  return argv;
}

/** Display form of argv, quoted where needed; for humans only, never executed. */
export function displayCommand(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
