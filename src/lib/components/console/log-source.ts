import type { LogLine } from '$lib/shared/log-lines';

export interface LogSearchResult {
  /** 1-based line numbers (the same numbering as the viewer) with the matching text, ANSI stripped. */
  hits: { line: number; text: string }[];
  /** Every match, even those beyond the hit limit. */
  total: number;
  /** Lines the search looked at. */
  lines: number;
}

/**
 * What the log viewer shows. Lines are held outside Svelte's reactivity (a million
 * proxied objects would be slow); `version` changes whenever a line was added or the
 * last line grew, and reading it from an effect is what makes the view update.
 */
export interface LogSource {
  /** Number of lines, including a last line still without its newline. */
  readonly count: number;
  /** Lines before this index are final and will never change. */
  readonly completeCount: number;
  readonly version: number;
  /** The line at a 0-based index. */
  line(index: number): LogLine | undefined;
  /** Searches the whole stored log on the server, for logs too big to scan here. */
  search?(query: string, regex: boolean, limit: number): Promise<LogSearchResult>;
}
