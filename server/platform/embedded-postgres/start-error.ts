/**
 * Why the embedded Postgres did not start, as one line a person can act on: what went wrong
 * and what to do about it. `main.ts` prints the message alone (no stack trace): the stack of
 * a failed spawn or a Postgres FATAL line says nothing the message does not.
 */
export class EmbeddedPostgresError extends Error {
  constructor(
    /** What went wrong, e.g. `port 5432 on 127.0.0.1 is already in use`. */
    readonly reason: string,
    /** What to do about it, as a sentence. */
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(`The embedded Postgres could not start: ${reason}. ${fix}`, options);
  }
}

/** Said after every fix: the way out that needs nothing from the embedded Postgres. */
export const OWN_POSTGRES = 'Or set DATABASE_URL to use a PostgreSQL (13 or newer) of your own.';

export interface FailedRun {
  /** `initdb` (creating the cluster) or `postgres` (starting it). */
  program: 'initdb' | 'postgres';
  /** Everything the program wrote to stderr and stdout, in order. */
  output: string;
  exitCode: number | null;
  /** The Postgres data directory it worked on. */
  pgData: string;
  port?: number;
  /** The user Postgres ran as, for ownership fixes. */
  user: string;
}

/** The line of Postgres's own output that names the problem: the last FATAL/PANIC/error line, else the last line. */
export function decisiveLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const marked = lines.filter((l) => /\b(FATAL|PANIC|error):/.test(l));
  const line = marked.at(-1) ?? lines.at(-1) ?? '';
  // Postgres prefixes its log lines with a timestamp and pid, and initdb's progress text
  // ("running bootstrap script ... ") may share the line: what follows FATAL: is the reason.
  return /\b(?:FATAL|PANIC):\s+(.*)$/.exec(line)?.[1] ?? line.replace(/^\S+ \S+ \S+ \[\d+\] /, '');
}

/**
 * Turns the output of an `initdb` or `postgres` that exited early into a cause and a fix.
 * The patterns are Postgres's own messages in the C locale (we run both programs with
 * LC_ALL=C so these stay matchable whatever the user's language).
 */
export function explainFailedRun(run: FailedRun): EmbeddedPostgresError {
  const { output, pgData } = run;
  const said = decisiveLine(output) || `${run.program} exited with code ${run.exitCode}`;
  if (/No space left on device|could not extend file|Disk quota exceeded/i.test(output)) {
    return new EmbeddedPostgresError(
      `the disk holding ${pgData} is full (${said})`,
      `Free some space there (a new database needs about 40 MB), or set DATA_DIR to a disk with room. ${OWN_POSTGRES}`,
    );
  }
  if (/could not bind .*Address already in use|could not create any TCP\/IP sockets/.test(output)) {
    return new EmbeddedPostgresError(
      `port ${run.port ?? '?'} on 127.0.0.1 is already in use (${said})`,
      `Another program took the port between the check and the start: start the console again (it picks a free port each time). ${OWN_POSTGRES}`,
    );
  }
  if (/incompatible with server|initialized by PostgreSQL version/.test(output)) {
    return new EmbeddedPostgresError(
      `${pgData} was made by another PostgreSQL major version (${said})`,
      `Start it once with the version that made it and dump it (pg_dump), or move ${pgData} away to start with an empty database. ${OWN_POSTGRES}`,
    );
  }
  if (/exists but is not empty/.test(output)) {
    return new EmbeddedPostgresError(
      `${pgData} holds files but no Postgres database (an interrupted first start?)`,
      `Move it away or delete it, then start again: an empty database is created there. ${OWN_POSTGRES}`,
    );
  }
  if (/wrong ownership|invalid permissions|Permission denied|Operation not permitted/.test(output)) {
    return new EmbeddedPostgresError(
      `Postgres, running as "${run.user}", may not use ${pgData} (${said})`,
      `The directory must belong to "${run.user}" with mode 0700 (chown -R ${run.user} ${pgData} && chmod 700 ${pgData}), and every directory above it must let "${run.user}" through. ${OWN_POSTGRES}`,
    );
  }
  if (run.program === 'postgres') {
    return new EmbeddedPostgresError(
      `Postgres stopped while starting on ${pgData} (${said})`,
      `If the data is damaged, restore ${pgData} from a backup or move it away to start with an empty database; LOG_LEVEL=debug shows Postgres's full log. ${OWN_POSTGRES}`,
    );
  }
  return new EmbeddedPostgresError(
    `creating the database in ${pgData} failed (${said})`,
    `LOG_LEVEL=debug shows initdb's full output. ${OWN_POSTGRES}`,
  );
}

/** A spawn that failed before the program ran (the binary is missing or may not be executed). */
export function explainSpawnError(err: NodeJS.ErrnoException, binary: string, user: string): EmbeddedPostgresError {
  if (err.code === 'ENOENT') {
    return new EmbeddedPostgresError(
      `the Postgres program ${binary} is missing`,
      `Reinstall the dependencies (npm install; not with --omit=optional, which leaves out the Postgres binaries). ${OWN_POSTGRES}`,
      { cause: err },
    );
  }
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return new EmbeddedPostgresError(
      `"${user}" may not run ${binary} (${err.code})`,
      `Every directory above it must let "${user}" through and the file must be executable; reinstalling the dependencies (npm install) restores the file modes. ${OWN_POSTGRES}`,
      { cause: err },
    );
  }
  return new EmbeddedPostgresError(`running ${binary} failed (${err.code ?? err.message})`, OWN_POSTGRES, { cause: err });
}
