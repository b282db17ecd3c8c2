import type { LogSource } from './log-source';
import { advanceState, PLAIN, stripAnsi, type AnsiSegment, type SgrState } from './ansi';

/** A piece of a rendered line: a styled segment, possibly cut where a search match starts or ends. */
export interface Piece {
  text: string;
  style: Readonly<SgrState>;
  mark: boolean;
}

export type Range = [start: number, end: number];

/** Splits styled segments at match ranges (offsets into the segments' joined text). */
export function markSegments(segments: AnsiSegment[], ranges: Range[]): Piece[] {
  if (!ranges.length) return segments.map((s) => ({ text: s.text, style: s.style, mark: false }));
  const out: Piece[] = [];
  let offset = 0;
  let r = 0;
  for (const seg of segments) {
    const segEnd = offset + seg.text.length;
    let pos = offset;
    while (pos < segEnd) {
      while (r < ranges.length && ranges[r][1] <= pos) r++;
      const range = ranges[r];
      if (!range || range[0] >= segEnd) {
        out.push({ text: seg.text.slice(pos - offset), style: seg.style, mark: false });
        pos = segEnd;
      } else if (range[0] > pos) {
        out.push({ text: seg.text.slice(pos - offset, range[0] - offset), style: seg.style, mark: false });
        pos = range[0];
      } else {
        const end = Math.min(range[1], segEnd);
        out.push({ text: seg.text.slice(pos - offset, end - offset), style: seg.style, mark: true });
        pos = end;
      }
    }
    offset = segEnd;
  }
  return out;
}

export interface Matcher {
  test(plain: string): boolean;
  ranges(plain: string): Range[];
}

/** Case-insensitive text or regular-expression matcher; throws SyntaxError for a bad regex. */
export function makeMatcher(query: string, regex: boolean): Matcher {
  if (regex) {
    const once = new RegExp(query, 'i');
    const all = new RegExp(query, 'gi');
    return {
      test: (s) => once.test(s),
      ranges(s) {
        const out: Range[] = [];
        all.lastIndex = 0;
        for (let m = all.exec(s); m; m = all.exec(s)) {
          if (m[0].length === 0) {
            all.lastIndex++;
            continue;
          }
          out.push([m.index, m.index + m[0].length]);
          if (out.length > 200) break;
        }
        return out;
      },
    };
  }
  const needle = query.toLowerCase();
  return {
    test: (s) => s.toLowerCase().includes(needle),
    ranges(s) {
      const out: Range[] = [];
      const hay = s.toLowerCase();
      for (let i = hay.indexOf(needle); i !== -1 && out.length <= 200; i = hay.indexOf(needle, i + needle.length)) {
        out.push([i, i + needle.length]);
      }
      return out;
    },
  };
}

const ERROR_WORD = /\b(error|failed|fatal|panic)\b/i;
const ERROR_HINT = /error|failed|fatal|panic/i;

/** 1-based number of the first stderr line or line mentioning error/failed/fatal/panic, after `fromLine`. */
export function findFirstError(source: LogSource, fromLine = 0): number | null {
  for (let i = fromLine; i < source.count; i++) {
    const line = source.line(i);
    if (!line || line.stream === 'system') continue;
    if (line.stream === 'stderr') return i + 1;
    // Cheap test on the raw text first; colour codes can hide a word boundary, so confirm on plain text.
    if (ERROR_HINT.test(line.text) && ERROR_WORD.test(stripAnsi(line.text))) return i + 1;
  }
  return null;
}

/** Lines between style checkpoints; the style at any line is at most this many lines of scanning away. */
const STEP = 256;

/**
 * The SGR style at the start of any line, for rendering a window in the middle of a log:
 * a colour opened far above still applies. Checkpoints are kept every STEP final lines
 * and extended lazily, so a jump to the end of a million lines scans them once.
 */
export class AnsiStateIndex {
  private checkpoints: Readonly<SgrState>[] = [PLAIN];

  constructor(private readonly source: LogSource) {}

  stateAt(index: number): Readonly<SgrState> {
    const want = Math.floor(index / STEP);
    const cps = this.checkpoints;
    // Only final lines may feed a checkpoint: the last line can still change.
    while (cps.length <= want && cps.length * STEP <= this.source.completeCount) {
      const k = cps.length;
      cps.push(this.advance(cps[k - 1], (k - 1) * STEP, k * STEP));
    }
    const base = Math.min(want, cps.length - 1);
    return this.advance(cps[base], base * STEP, index);
  }

  private advance(state: Readonly<SgrState>, from: number, to: number): Readonly<SgrState> {
    for (let i = from; i < to; i++) {
      const line = this.source.line(i);
      if (line && line.stream !== 'system') state = advanceState(line.text, state);
    }
    return state;
  }
}
