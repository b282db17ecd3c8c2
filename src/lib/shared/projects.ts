/** Project and make-target shapes shared by the server and the UI. */

/** The same rule as the `projects.alias` CHECK constraint and the mkcli registry. */
export const PROJECT_ALIAS = /^[a-zA-Z0-9_.-]{1,64}$/;

export type ProjectSource = 'registry' | 'ui';
export type ProjectStatus = 'ok' | 'missing' | 'not_a_directory' | 'unreadable';

export interface Project {
  alias: string;
  /** Absolute path as registered (symlinks are resolved only when a job runs there). */
  dir: string;
  source: ProjectSource;
  status: ProjectStatus;
  /** Why the status is not `ok`, for humans. */
  error?: string;
}

export interface MakeTarget {
  name: string;
  /** Text after `##` on the target's line, or the wrapper's description column. */
  description?: string;
}

/** Where a project's target list came from: its mkcli wrapper, make's database, or nowhere. */
export type TargetSource = 'wrapper' | 'make' | 'none';

export interface TargetList {
  targets: MakeTarget[];
  source: TargetSource;
  /** Why the list is empty (no Makefile, …). */
  reason?: string;
}

/** A registry line that was skipped, or a registry entry that hides a UI project. */
export interface RegistryError {
  /** 1-based line in the registry file; 0 when the file as a whole could not be read. */
  line: number;
  text: string;
  reason: string;
}
