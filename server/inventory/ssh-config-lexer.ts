/**
 * Splitting ssh_config lines into a keyword and its arguments, reproducing the two
 * tokenisers OpenSSH uses side by side (misc.c): `strdelim` for the keyword and for Match
 * criteria (whitespace or one '=', double quotes only), and `argv_split` for ordinary
 * arguments (single and double quotes, backslash escapes, '#' starting a comment).
 * They differ in small ways (`Match exec 'a b'` is split by strdelim, which knows no
 * single quotes, so it fails), and configs that work in ssh depend on exactly these rules.
 */

/** readconf.c's WHITESPACE: what separates tokens and what is trimmed around them. */
const WHITESPACE = ' \t\r\n';

export interface Delimited {
  /** The token, quotes removed; null when a double quote is left open. */
  token: string | null;
  /** What follows, leading whitespace skipped; null when nothing is left to split. */
  rest: string | null;
}

function skipWhitespace(s: string, from: number): number {
  let i = from;
  while (i < s.length && WHITESPACE.includes(s[i])) i++;
  return i;
}

/**
 * Next token of a line, split on whitespace or a single '=' (so `Port=22`, `Port = 22`
 * and `Port 22` read alike but `Port==22` leaves `=22`); a double-quoted run is one token.
 */
export function strdelim(s: string | null): Delimited {
  if (s === null) return { token: null, rest: null };
  let i = 0;
  while (i < s.length && !`${WHITESPACE}"=`.includes(s[i])) i++;
  if (i === s.length) return { token: s, rest: null };
  if (s[i] === '"') {
    const close = s.indexOf('"', i + 1);
    if (close < 0) return { token: null, rest: null };
    return { token: s.slice(0, i) + s.slice(i + 1, close), rest: s.slice(skipWhitespace(s, close + 1)) };
  }
  const sawEquals = s[i] === '=';
  let next = skipWhitespace(s, i + 1);
  // Only one '=' may separate a keyword from its value.
  if (!sawEquals && s[next] === '=') next = skipWhitespace(s, next + 1);
  return { token: s.slice(0, i), rest: s.slice(next) };
}

/**
 * Arguments of a directive: space/tab separated, single or double quotes group, `\'`,
 * `\"`, `\\` and (outside quotes) `\ ` escape, and '#' at the start of a token ends the
 * line. Returns null for an unterminated quote (OpenSSH: "invalid quotes").
 */
export function splitArguments(s: string): string[] | null {
  const args: string[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === ' ' || s[i] === '\t') {
      i++;
      continue;
    }
    if (s[i] === '#') break;
    let quote = '';
    let arg = '';
    for (; i < s.length; i++) {
      const c = s[i];
      const next = s[i + 1];
      if (c === '\\') {
        if (next === "'" || next === '"' || next === '\\' || (quote === '' && next === ' ')) {
          arg += next;
          i++;
        } else {
          arg += c; // unrecognised escapes are kept as written
        }
      } else if (quote === '' && (c === ' ' || c === '\t')) {
        break;
      } else if (quote === '' && (c === '"' || c === "'")) {
        quote = c;
      } else if (quote !== '' && c === quote) {
        quote = '';
      } else {
        arg += c;
      }
    }
    args.push(arg);
    if (i >= s.length && quote !== '') return null;
  }
  return args;
}

export type LexedLine =
  | { kind: 'blank' }
  /** A keyword with nothing after it: OpenSSH rejects the line before looking the keyword up. */
  | { kind: 'missing-argument'; keyword: string }
  /**
   * `rest` is the raw remainder (ProxyCommand and ProxyJump take it verbatim, Match
   * re-splits it with strdelim); `args` is null when its quotes do not balance.
   */
  | { kind: 'directive'; keyword: string; rest: string; args: string[] | null };

/** ASCII-only lowercasing, as C's tolower() in the C locale. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** One physical line (without its newline) as readconf.c's process_config_line sees it. */
export function lexLine(raw: string): LexedLine {
  // C strings end at the first NUL.
  let line = raw.includes('\0') ? raw.slice(0, raw.indexOf('\0')) : raw;
  // Trailing whitespace (and form feeds) go, but never the first character.
  let end = line.length;
  while (end > 1 && `${WHITESPACE}\f`.includes(line[end - 1])) end--;
  line = line.slice(0, end);
  if (line.length === 0) return { kind: 'blank' };

  let { token: keyword, rest } = strdelim(line);
  if (keyword === null) return { kind: 'blank' };
  if (keyword === '') ({ token: keyword, rest } = strdelim(rest)); // leading whitespace
  if (keyword === null || keyword === '' || keyword.startsWith('\n') || keyword.startsWith('#')) return { kind: 'blank' };
  keyword = asciiLower(keyword);

  const remainder = rest === null ? '' : rest.slice(skipWhitespace(rest, 0));
  if (remainder === '') return { kind: 'missing-argument', keyword };
  return { kind: 'directive', keyword, rest: remainder, args: splitArguments(remainder) };
}

/** Strips what ProxyCommand/ProxyJump skip before taking the rest of the line verbatim. */
export function stripLeadingSeparators(rest: string): string {
  let i = 0;
  while (i < rest.length && `${WHITESPACE}=`.includes(rest[i])) i++;
  return rest.slice(i);
}
