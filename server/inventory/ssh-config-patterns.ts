/**
 * OpenSSH's wildcard matching (match.c): `*` any run, `?` exactly one character, no
 * character classes and no escapes. Host lines use single patterns (a comma is an ordinary
 * character there); Match criteria use comma-separated lists where `!` negates.
 */
import { asciiLower } from './ssh-config-lexer.ts';

/** Whether `s` matches `pattern` as a whole; case-sensitive. */
export function matchPattern(s: string, pattern: string): boolean {
  let si = 0;
  let pi = 0;
  // Classic backtracking over the last '*': linear in practice and never recursive.
  let starPi = -1;
  let starSi = 0;
  while (si < s.length) {
    if (pi < pattern.length && (pattern[pi] === '?' || (pattern[pi] !== '*' && pattern[pi] === s[si]))) {
      si++;
      pi++;
    } else if (pi < pattern.length && pattern[pi] === '*') {
      starPi = pi++;
      starSi = si;
    } else if (starPi >= 0) {
      pi = starPi + 1;
      si = ++starSi;
    } else {
      return false;
    }
  }
  while (pi < pattern.length && pattern[pi] === '*') pi++;
  return pi === pattern.length;
}

/**
 * Matches against a comma-separated list of patterns, each optionally negated with `!`:
 * -1 when a negated pattern matches (which wins outright), 1 on a positive match, 0
 * otherwise. With `lowercasePatterns` the patterns (not the string) are lowercased.
 */
export function matchPatternList(s: string, list: string, lowercasePatterns: boolean): -1 | 0 | 1 {
  let positive = false;
  for (let entry of list.split(',')) {
    const negated = entry.startsWith('!');
    if (negated) entry = entry.slice(1);
    // OpenSSH copies each entry into a 1024-byte buffer and gives up on longer ones.
    if (entry.length >= 1023) return 0;
    if (matchPattern(s, lowercasePatterns ? asciiLower(entry) : entry)) {
      if (negated) return -1;
      positive = true;
    }
  }
  return positive ? 1 : 0;
}

/** Host name matching for Match host/originalhost: both sides compared in lowercase. */
export function matchHostname(host: string, list: string): -1 | 0 | 1 {
  return matchPatternList(asciiLower(host), list, true);
}
