import { describe, expect, it } from 'vitest';
import { advanceState, cssColor, parseAnsi, PLAIN, stripAnsi, styleCss } from '../../src/lib/components/console/ansi.ts';

const E = '\x1b[';
/** Segments as [text, fg, bg] for compact assertions. */
const colours = (line: string, state = PLAIN) =>
  parseAnsi(line, state).segments.map((s) => [s.text, s.style.fg, s.style.bg]);

describe('ansi SGR parser', () => {
  it('keeps a line without escapes as one plain segment', () => {
    const { segments, state } = parseAnsi('hello world');
    expect(segments).toEqual([{ text: 'hello world', style: PLAIN }]);
    expect(state).toBe(PLAIN);
  });

  it('parses the 16 colours, foreground and background, and reset', () => {
    expect(colours(`${E}31mred${E}0m plain ${E}42;97mbright on green${E}m`)).toEqual([
      ['red', 1, null],
      [' plain ', null, null],
      ['bright on green', 15, 2],
    ]);
    expect(colours(`${E}90mgrey${E}39m default ${E}104mbg${E}49m`)).toEqual([
      ['grey', 8, null],
      [' default ', null, null],
      ['bg', null, 12],
    ]);
  });

  it('parses 256-colour and truecolor in semicolon and colon forms', () => {
    expect(colours(`${E}38;5;208morange${E}48;5;21mblue bg`)).toEqual([
      ['orange', 208, null],
      ['blue bg', 208, 21],
    ]);
    expect(colours(`${E}38;2;255;128;0mtc${E}0m`)).toEqual([['tc', '#ff8000', null]]);
    expect(colours(`${E}38:2::1:2:3ma${E}48:5:9mb`)).toEqual([
      ['a', '#010203', null],
      ['b', '#010203', 9],
    ]);
    // Parameters after an extended colour still apply.
    const { segments } = parseAnsi(`${E}38;5;1;1mx`);
    expect(segments[0].style).toMatchObject({ fg: 1, bold: true });
  });

  it('tracks bold, dim, italic, underline, inverse and strikethrough and their resets', () => {
    const { segments } = parseAnsi(`${E}1;2;3;4;7;9mall${E}22;23;24;27;29mnone`);
    expect(segments[0].style).toMatchObject({ bold: true, dim: true, italic: true, underline: true, inverse: true, strike: true });
    expect(segments[1].style).toBe(PLAIN);
    expect(parseAnsi(`${E}4:0mx`).segments[0].style.underline).toBe(false);
    expect(parseAnsi(`${E}4:3mx`).segments[0].style.underline).toBe(true);
  });

  it('carries state across lines until a reset', () => {
    const first = parseAnsi(`start ${E}32mgreen`);
    expect(first.state.fg).toBe(2);
    const second = parseAnsi('still green', first.state);
    expect(second.segments).toEqual([{ text: 'still green', style: first.state }]);
    const third = parseAnsi(`x${E}0my`, second.state);
    expect(third.segments.map((s) => [s.text, s.style.fg])).toEqual([
      ['x', 2],
      ['y', null],
    ]);
    expect(third.state).toBe(PLAIN);
    expect(advanceState(`${E}1mb${E}34mc`)).toMatchObject({ bold: true, fg: 4 });
    expect(advanceState('no escapes', first.state)).toBe(first.state);
  });

  it('strips other CSI, OSC and escape sequences', () => {
    expect(stripAnsi(`${E}2K${E}1Gdone${E}?25h`)).toBe('done');
    expect(stripAnsi('\x1b]0;window title\x07text')).toBe('text');
    expect(stripAnsi('\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\')).toBe('link');
    expect(stripAnsi('\x1b(Bcharset\x1b7saved\x1b8')).toBe('charsetsaved');
    expect(stripAnsi(`${E}>4;2mkeys`)).toBe('keys');
    // A sequence cut off at the end of the line is dropped, not shown.
    expect(stripAnsi(`tail${E}31`)).toBe('tail');
    expect(colours(`${E}31ma${E}Kb`)).toEqual([['ab', 1, null]]);
  });

  it('shows control characters as visible symbols', () => {
    expect(stripAnsi('a\x00b\x07c\td')).toBe('a\u2400b\u2407c\td');
  });

  it('ignores malformed extended colours without breaking later codes', () => {
    expect(parseAnsi(`${E}38;5;999;1mx`).segments[0].style).toMatchObject({ fg: null, bold: true });
    expect(parseAnsi(`${E}38;2;1;2mx`).segments[0].style.fg).toBe(null);
  });

  it('renders styles as CSS with theme variables for the 16 colours', () => {
    expect(cssColor(1)).toBe('var(--ansi-1)');
    expect(cssColor(16)).toBe('rgb(0 0 0)');
    expect(cssColor(196)).toBe('rgb(255 0 0)');
    expect(cssColor(231)).toBe('rgb(255 255 255)');
    expect(cssColor(232)).toBe('rgb(8 8 8)');
    expect(cssColor(255)).toBe('rgb(238 238 238)');
    expect(styleCss(PLAIN)).toBe('');
    const s = parseAnsi(`${E}1;4;9;31;44mx`).segments[0].style;
    expect(styleCss(s)).toBe('color:var(--ansi-1);background-color:var(--ansi-4);font-weight:700;text-decoration:underline line-through');
    const inv = parseAnsi(`${E}7mx`).segments[0].style;
    expect(styleCss(inv)).toContain('background-color:var(--console-fg');
  });
});
