import { untrack } from 'svelte';
import { toast } from 'svelte-sonner';
import { errorMessage } from '$lib/api/client';
import { stripAnsi } from './ansi';
import type { LogSource } from './log-source';
import { makeMatcher, type Matcher } from './log-text';

const SERVER_HIT_LIMIT = 5000;

/**
 * Search over a log view: scans the loaded lines in the browser (following a live log as
 * it grows), or asks the server for logs longer than `serverSearchAbove` lines. Keeps the
 * matching line numbers and the current match; `goTo` is how it shows one.
 */
export class LogSearch {
  /** The query actually searched (typing is debounced by the view). */
  activeQuery = $state('');
  matcher = $state.raw<Matcher | null>(null);
  regexError = $state<string | null>(null);
  matchCount = $state(0);
  /** Every match on the server, which may be more than it returned. */
  matchTotal = $state(0);
  current = $state(-1);
  mode = $state<'client' | 'server'>('client');
  searching = $state(false);

  /** 1-based matching line numbers, ascending; not reactive (can be 200k long): `matchCount` is. */
  #matches: number[] = [];
  /** Final lines already scanned by the client-side search. */
  #scanned = 0;
  #run = 0;

  constructor(
    /** Getters: the view's props may change (another job in the same page). */
    private readonly getSource: () => LogSource,
    private readonly getServerSearchAbove: () => number,
    /** Scrolls a 1-based line into view. */
    private readonly goTo: (line: number) => void,
    /** The first 1-based line in view, where a new search starts looking. */
    private readonly topLine: () => number,
  ) {}

  get currentLine(): number | null {
    return this.current >= 0 && this.matchCount > 0 ? (this.#matches[this.current] ?? null) : null;
  }

  /** Searches from scratch. */
  start(q: string, regex: boolean) {
    const run = ++this.#run;
    this.activeQuery = q;
    this.#matches = [];
    this.matchCount = 0;
    this.matchTotal = 0;
    this.current = -1;
    this.#scanned = 0;
    this.regexError = null;
    this.searching = false;
    if (!q) {
      this.matcher = null;
      return;
    }
    try {
      this.matcher = makeMatcher(q, regex);
    } catch (err) {
      this.matcher = null;
      this.regexError = err instanceof Error ? err.message : 'Not a valid regular expression';
      return;
    }
    const source = this.getSource();
    if (source.search && untrack(() => source.count) > this.getServerSearchAbove()) {
      this.mode = 'server';
      this.searching = true;
      source
        .search(q, regex, SERVER_HIT_LIMIT)
        .then((res) => {
          if (run !== this.#run) return;
          this.#matches = res.hits.map((h) => h.line);
          this.matchCount = this.#matches.length;
          this.matchTotal = res.total;
          this.jumpToFirstVisible();
        })
        .catch((err) => {
          if (run === this.#run) toast.error(`Search failed: ${errorMessage(err)}`);
        })
        .finally(() => {
          if (run === this.#run) this.searching = false;
        });
    } else {
      this.mode = 'client';
      this.#scanMore();
      this.jumpToFirstVisible();
    }
  }

  /** The log grew: a client-side search scans the lines that became final since the last look. */
  grew() {
    if (!this.matcher || this.mode !== 'client') return;
    const before = this.matchCount;
    this.#scanMore();
    if (this.current === -1 && before === 0 && this.matchCount > 0) this.jumpToFirstVisible();
  }

  next() {
    this.#goToMatch(this.current + 1);
  }

  prev() {
    this.#goToMatch(this.current === -1 ? -1 : this.current - 1);
  }

  jumpToFirstVisible() {
    if (!this.matchCount) return;
    const top = this.topLine();
    const i = this.#matches.findIndex((n) => n >= top);
    this.#goToMatch(i === -1 ? 0 : i);
  }

  #scanMore() {
    const m = this.matcher;
    if (!m || this.mode !== 'client') return;
    const source = this.getSource();
    const upTo = source.completeCount;
    for (let i = this.#scanned; i < upTo; i++) {
      const line = source.line(i);
      if (line && m.test(stripAnsi(line.text))) this.#matches.push(i + 1);
    }
    this.#scanned = Math.max(this.#scanned, upTo);
    this.matchCount = this.#matches.length;
    this.matchTotal = this.#matches.length;
  }

  #goToMatch(i: number) {
    if (!this.matchCount) return;
    this.current = ((i % this.matchCount) + this.matchCount) % this.matchCount;
    this.goTo(this.#matches[this.current]);
  }
}
