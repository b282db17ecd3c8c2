/**
 * SGR (colour and style) parsing for job output. A line's escape sequences become styled
 * segments; every other CSI, OSC or escape sequence is dropped, so cursor movement and
 * window titles never show up as garbage. Style state carries from one line to the next,
 * as on a terminal: a colour opened on line 5 and reset on line 9 colours lines 5–9.
 */

/** 0–255 is a palette index (0–15 follow the theme via CSS variables); a string is `#rrggbb`. */
export type AnsiColor = number | string;

export interface SgrState {
  fg: AnsiColor | null;
  bg: AnsiColor | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
  inverse: boolean;
  strike: boolean;
}

export interface AnsiSegment {
  text: string;
  /** Shared, frozen snapshot: segments with the same style may share one object. */
  style: Readonly<SgrState>;
}

export const PLAIN: Readonly<SgrState> = Object.freeze({
  fg: null,
  bg: null,
  bold: false,
  dim: false,
  italic: false,
  underline: false,
  inverse: false,
  strike: false,
});

export const isPlain = (s: Readonly<SgrState>) =>
  s === PLAIN ||
  (s.fg === null && s.bg === null && !s.bold && !s.dim && !s.italic && !s.underline && !s.inverse && !s.strike);

const ESC = '\x1b';
const CSI_8BIT = '\x9b';

/**
 * Parses one line. `state` is the style in effect where the line starts (the previous
 * line's returned state); the returned `state` is the style in effect at its end.
 * Adjacent text with the same style is one segment; a line without escapes is one segment.
 */
export function parseAnsi(line: string, state: Readonly<SgrState> = PLAIN): { segments: AnsiSegment[]; state: Readonly<SgrState> } {
  const segments: AnsiSegment[] = [];
  if (!hasEscape(line)) {
    const text = visibleControls(line);
    if (text) segments.push({ text, style: state });
    return { segments, state };
  }
  let style = state;
  let text = '';
  const flush = () => {
    if (!text) return;
    const last = segments[segments.length - 1];
    if (last && last.style === style) last.text += text;
    else segments.push({ text, style });
    text = '';
  };
  scan(line, {
    text: (t) => {
      text += visibleControls(t);
    },
    sgr: (params) => {
      const next = applySgr(style, params);
      if (next !== style) {
        flush();
        style = next;
      }
    },
  });
  flush();
  return { segments, state: style };
}

/** The style in effect after `line`, without building segments (for skipping ahead fast). */
export function advanceState(line: string, state: Readonly<SgrState> = PLAIN): Readonly<SgrState> {
  if (!hasEscape(line)) return state;
  let style = state;
  scan(line, { text: () => {}, sgr: (params) => (style = applySgr(style, params)) });
  return style;
}

/** The text a reader sees: escapes removed, control characters shown as symbols. */
export function stripAnsi(line: string): string {
  if (!hasEscape(line)) return visibleControls(line);
  let out = '';
  scan(line, { text: (t) => (out += visibleControls(t)), sgr: () => {} });
  return out;
}

const hasEscape = (s: string) => s.includes(ESC) || s.includes(CSI_8BIT);

/**
 * C0 controls other than tab would be invisible or break the row; show them as the
 * Unicode control pictures (␀, ␇, …) so binary output is visible, not silently lost.
 */
function visibleControls(s: string): string {
  if (!/[\x00-\x08\x0b-\x1f\x7f]/.test(s)) return s;
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => (c === '\x7f' ? '\u2421' : String.fromCharCode(0x2400 + c.charCodeAt(0))));
}

interface ScanHandlers {
  text(t: string): void;
  sgr(params: string): void;
}

/** Walks a line: text between sequences goes to `text`, each SGR's parameter string to `sgr`. */
function scan(line: string, h: ScanHandlers) {
  let i = 0;
  let start = 0;
  const n = line.length;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c !== 0x1b && c !== 0x9b) {
      i++;
      continue;
    }
    if (i > start) h.text(line.slice(start, i));
    i = skipSequence(line, i, h);
    start = i;
  }
  if (start < n) h.text(line.slice(start));
}

/** Consumes the escape sequence starting at `i` and returns the index after it. */
function skipSequence(line: string, i: number, h: ScanHandlers): number {
  const n = line.length;
  let j: number;
  if (line.charCodeAt(i) === 0x9b) j = i + 1; // 8-bit CSI
  else {
    const next = line[i + 1];
    if (next === undefined) return n;
    if (next === '[') j = i + 2;
    else if (next === ']' || next === 'P' || next === '_' || next === '^' || next === 'X') {
      // OSC, DCS, APC, PM, SOS: a string terminated by BEL or ST (ESC \).
      for (j = i + 2; j < n; j++) {
        const c = line.charCodeAt(j);
        if (c === 0x07) return j + 1;
        if (c === 0x1b && line[j + 1] === '\\') return j + 2;
      }
      return n;
    } else {
      // ESC, intermediates (0x20–0x2f), one final byte: charset selection, keypad modes, …
      for (j = i + 1; j < n; j++) {
        const c = line.charCodeAt(j);
        if (c < 0x20 || c > 0x2f) return j + 1;
      }
      return n;
    }
  }
  // CSI: parameter bytes 0x30–0x3f, intermediate bytes 0x20–0x2f, one final byte 0x40–0x7e.
  const paramStart = j;
  while (j < n) {
    const c = line.charCodeAt(j);
    if (c < 0x30 || c > 0x3f) break;
    j++;
  }
  const paramEnd = j;
  while (j < n) {
    const c = line.charCodeAt(j);
    if (c < 0x20 || c > 0x2f) break;
    j++;
  }
  if (j >= n) return n; // cut off at the end of the line: drop it
  const final = line.charCodeAt(j);
  if (final < 0x40 || final > 0x7e) return j; // malformed: drop the introducer, keep the rest as text
  if (final === 0x6d /* m */ && paramEnd === j) {
    const params = line.slice(paramStart, paramEnd);
    // Private-mode variants (`ESC[>4;2m`, xterm key modifiers) are not SGR.
    if (!/^[<=>?]/.test(params)) h.sgr(params);
  }
  return j + 1;
}

/** Applies one SGR parameter string; returns `state` itself when nothing changed. */
export function applySgr(state: Readonly<SgrState>, params: string): Readonly<SgrState> {
  const s: SgrState = { ...state };
  // Each parameter may carry colon sub-parameters (ITU T.416: `38:2::255:0:0`).
  const list = params === '' ? [''] : params.split(';');
  for (let k = 0; k < list.length; k++) {
    const sub = list[k].split(':');
    const code = sub[0] === '' ? 0 : Number(sub[0]);
    if (!Number.isInteger(code)) continue;
    if (code === 38 || code === 48 || code === 58) {
      let color: AnsiColor | null | undefined;
      if (sub.length > 1) color = extendedColor(sub.slice(1), true);
      else {
        // Semicolon form: the colour's parts are the following parameters.
        const mode = Number(list[k + 1]);
        if (mode === 5) {
          color = extendedColor(list.slice(k + 1, k + 3), false);
          k += 2;
        } else if (mode === 2) {
          color = extendedColor(list.slice(k + 1, k + 5), false);
          k += 4;
        } else {
          k += 1;
        }
      }
      if (color === undefined) continue;
      if (code === 38) s.fg = color;
      else if (code === 48) s.bg = color;
      // 58 is the underline colour: parsed so its parts are not read as codes, then ignored.
      continue;
    }
    switch (true) {
      case code === 0:
        Object.assign(s, PLAIN);
        break;
      case code === 1:
        s.bold = true;
        break;
      case code === 2:
        s.dim = true;
        break;
      case code === 3:
        s.italic = true;
        break;
      case code === 4:
        // 4:0 turns underline off; 4:1…4:5 are underline styles.
        s.underline = sub[1] !== '0';
        break;
      case code === 7:
        s.inverse = true;
        break;
      case code === 9:
        s.strike = true;
        break;
      case code === 21:
        s.underline = true; // double underline
        break;
      case code === 22:
        s.bold = false;
        s.dim = false;
        break;
      case code === 23:
        s.italic = false;
        break;
      case code === 24:
        s.underline = false;
        break;
      case code === 27:
        s.inverse = false;
        break;
      case code === 29:
        s.strike = false;
        break;
      case code >= 30 && code <= 37:
        s.fg = code - 30;
        break;
      case code === 39:
        s.fg = null;
        break;
      case code >= 40 && code <= 47:
        s.bg = code - 40;
        break;
      case code === 49:
        s.bg = null;
        break;
      case code >= 90 && code <= 97:
        s.fg = code - 90 + 8;
        break;
      case code >= 100 && code <= 107:
        s.bg = code - 100 + 8;
        break;
      default:
        // Blink, conceal, fonts, frames…: not shown.
        break;
    }
  }
  if (sameStyle(s, state)) return state;
  return isPlain(s) ? PLAIN : Object.freeze(s);
}

/** `5;n` or `2;r;g;b` (colon form may carry a colour-space id: `2:id:r:g:b`). Undefined when malformed. */
function extendedColor(parts: string[], colon: boolean): AnsiColor | undefined {
  const mode = Number(parts[0]);
  if (mode === 5) {
    const n = Number(parts[1]);
    return Number.isInteger(n) && n >= 0 && n <= 255 ? n : undefined;
  }
  if (mode === 2) {
    let rgb = parts.slice(1);
    if (colon && rgb.length >= 4) rgb = rgb.slice(1);
    const [r, g, b] = rgb.map((p) => (p === '' ? 0 : Number(p)));
    if (![r, g, b].every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) return undefined;
    return '#' + [r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('');
  }
  return undefined;
}

function sameStyle(a: Readonly<SgrState>, b: Readonly<SgrState>): boolean {
  return (
    a.fg === b.fg &&
    a.bg === b.bg &&
    a.bold === b.bold &&
    a.dim === b.dim &&
    a.italic === b.italic &&
    a.underline === b.underline &&
    a.inverse === b.inverse &&
    a.strike === b.strike
  );
}

/** CSS colour for a palette index or `#rrggbb`: 0–15 via the theme's `--ansi-N` variables, 16–255 computed. */
export function cssColor(c: AnsiColor): string {
  if (typeof c === 'string') return c;
  if (c < 16) return `var(--ansi-${c})`;
  if (c < 232) {
    const i = c - 16;
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${level(Math.floor(i / 36))} ${level(Math.floor(i / 6) % 6)} ${level(i % 6)})`;
  }
  const g = 8 + (c - 232) * 10;
  return `rgb(${g} ${g} ${g})`;
}

/** Inline CSS for a style; empty for the default style. Inverse swaps colours, defaulting to the console's. */
export function styleCss(s: Readonly<SgrState>): string {
  if (isPlain(s)) return '';
  let fg = s.fg === null ? null : cssColor(s.fg);
  let bg = s.bg === null ? null : cssColor(s.bg);
  if (s.inverse) {
    [fg, bg] = [bg ?? 'var(--console-bg, Canvas)', fg ?? 'var(--console-fg, CanvasText)'];
  }
  const css: string[] = [];
  if (fg) css.push(`color:${fg}`);
  if (bg) css.push(`background-color:${bg}`);
  if (s.bold) css.push('font-weight:700');
  if (s.dim) css.push('opacity:.65');
  if (s.italic) css.push('font-style:italic');
  const deco = [s.underline && 'underline', s.strike && 'line-through'].filter(Boolean);
  if (deco.length) css.push(`text-decoration:${deco.join(' ')}`);
  return css.join(';');
}
