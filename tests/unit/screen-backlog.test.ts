import { describe, expect, it } from 'vitest';
import headless from '@xterm/headless';
import { SerializeAddon } from '@xterm/addon-serialize';
import { ScreenBacklog, linesToKeep } from '../../server/sources/screen-backlog.ts';

const COLS = 40;
const ROWS = 10;
const SCROLLBACK = 30;

function screen(rows = ROWS) {
  const term = new headless.Terminal({ cols: COLS, rows, scrollback: SCROLLBACK, allowProposedApi: true, logLevel: 'off' });
  const serializer = new SerializeAddon();
  term.loadAddon(serializer);
  let title = '';
  term.onTitleChange((t) => (title = t));
  const write = (data: Uint8Array | string) => new Promise<void>((r) => term.write(data, r));
  const state = async () => {
    await write('');
    const b = term.buffer.active;
    return { serialized: serializer.serialize(), x: b.cursorX, y: b.cursorY, type: b.type, title, length: b.length };
  };
  return { term, write, state };
}

function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ESC = '\x1b';
/** Pieces of terminal output: plain text and every kind of sequence the backlog must not misread. */
const SPECIAL = [
  `${ESC}[31m`, `${ESC}[0m`, `${ESC}[38;5;200;48;2;1;2;3m`, `${ESC}[H`, `${ESC}[5;10H`, `${ESC}[3A`, `${ESC}[2J`, `${ESC}[K`,
  `${ESC}]0;title one\x07`, `${ESC}]2;title two${ESC}\\`, `${ESC}]0;unterminated `, `${ESC}Pq#0;2;0;0;0${ESC}\\`, `${ESC}_apc\x07text${ESC}\\`,
  '\xc2\x9b32m', '\xc2\x85', '\xc2\x9d0;c1 title\x07', '\xe2\x41', '\xff', '\x80', `${ESC}[3\x18`, `${ESC}[?25l`,
  '\x07', '\x08', '\t', '\x0b', '\x0c', '\x0e', '\x0f', `${ESC}(0lqk${ESC}(B`, `${ESC}7`, `${ESC}8`, `${ESC}[4h`, `${ESC}[?7l`, `${ESC}[?7h`,
  `${ESC}D`, `${ESC}M`, `${ESC}[S`, `${ESC}[T`, `${ESC}[L`, `${ESC}[3@`, `${ESC}`, `${ESC}[`, `${ESC}[?`,
];
/** Margins, buffers and resets: rarer, since margins turn the shortcut off until they are reset. */
const MODAL = [
  `${ESC}[3;8r`, `${ESC}[r`, `${ESC}[1;${ROWS}r`, `${ESC}[2;${ROWS}r`, `${ESC}[?1049h`, `${ESC}[?1049l`, `${ESC}[?47h`, `${ESC}[?47l`,
  `${ESC}[!p`, `${ESC}c`, `${ESC}[?2r`, `${ESC}[5;2r`,
];
const WORDS = ['alpha', 'beta', 'é', '€', '😀', '漢字', 'x'.repeat(55), '  ', '\t', 'e\u0301', 'ok'];

function line(rnd: () => number) {
  let s = '';
  const n = Math.floor(rnd() * 8);
  for (let i = 0; i < n; i++) s += WORDS[Math.floor(rnd() * WORDS.length)] + ' ';
  const end = rnd();
  return s + (end < 0.7 ? '\r\n' : end < 0.85 ? '\n' : end < 0.95 ? '\r' : '');
}

/** Output with bursts of plain lines (long enough to be dropped) between sequences of every kind. */
function output(rnd: () => number): Buffer {
  const parts: Buffer[] = [];
  // Sequences are bytes as written (the "\xNN" escapes are single bytes: invalid UTF-8, C1 codes); text is UTF-8.
  const bytes = (s: string) => Buffer.from(s, 'latin1');
  const text = (s: string) => Buffer.from(s, 'utf8');
  const pieces = 20 + Math.floor(rnd() * 60);
  for (let i = 0; i < pieces; i++) {
    const r = rnd();
    if (r < 0.3) {
      const burst = Math.floor(rnd() * 3 * linesToKeep(SCROLLBACK, ROWS));
      for (let j = 0; j < burst; j++) parts.push(text(line(rnd)));
    } else if (r < 0.55) {
      parts.push(bytes(SPECIAL[Math.floor(rnd() * SPECIAL.length)]));
    } else if (r < 0.6) {
      parts.push(bytes(MODAL[Math.floor(rnd() * MODAL.length)]));
    } else {
      parts.push(text(line(rnd)));
    }
  }
  return Buffer.concat(parts);
}

/** Splits at random points, through characters and sequences alike. */
function chunks(rnd: () => number, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length;) {
    const n = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 16 : 4000));
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

describe('screen backlog', () => {
  it('leaves the screen, scrollback, cursor and title exactly as parsing everything would', async () => {
    let dropped = 0;
    let total = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const rnd = random(seed);
      const data = output(rnd);
      const direct = screen();
      const viaBacklog = screen();
      const backlog = new ScreenBacklog(SCROLLBACK, ROWS);
      for (const chunk of chunks(rnd, data)) {
        await direct.write(chunk);
        dropped += backlog.push(chunk);
        // The worker parses what waits now and then (a timer, or too many bytes waiting).
        if (rnd() < 0.05) {
          const piece = backlog.takeAll();
          if (piece) await viaBacklog.write(piece);
        }
      }
      const rest = backlog.takeAll();
      if (rest) await viaBacklog.write(rest);
      total += data.length;
      const want = await direct.state();
      expect(await viaBacklog.state(), `seed ${seed}`).toEqual(want);
      direct.term.dispose();
      viaBacklog.term.dispose();
    }
    // The shortcut was taken (else this test proves nothing), and not everywhere.
    expect(dropped).toBeGreaterThan(total * 0.1);
    expect(dropped).toBeLessThan(total * 0.9);
  });

  it('keeps a resize in order: nothing before it is dropped against the new size', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = random(1000 + seed);
      const direct = screen();
      const viaBacklog = screen();
      const backlog = new ScreenBacklog(SCROLLBACK, ROWS);
      for (let round = 0; round < 4; round++) {
        const data = output(rnd);
        for (const chunk of chunks(rnd, data)) {
          await direct.write(chunk);
          backlog.push(chunk);
        }
        const rows = 5 + Math.floor(rnd() * 20);
        await direct.write('');
        direct.term.resize(COLS, rows);
        backlog.seal();
        const piece = backlog.takeAll();
        if (piece) await viaBacklog.write(piece);
        viaBacklog.term.resize(COLS, rows);
        backlog.resize(rows);
      }
      const rest = backlog.takeAll();
      if (rest) await viaBacklog.write(rest);
      expect(await viaBacklog.state(), `seed ${seed}`).toEqual(await direct.state());
      direct.term.dispose();
      viaBacklog.term.dispose();
    }
  });

  it('parses only the last screens of a plain flood', () => {
    const backlog = new ScreenBacklog(5000, 24);
    const line = 'the quick brown fox jumps over the lazy dog 0123456789\r\n';
    const block = Buffer.from(line.repeat(1000));
    let dropped = 0;
    for (let i = 0; i < 100; i++) dropped += backlog.push(block);
    expect(dropped + backlog.bytes).toBe(block.length * 100);
    // What waits is the last scrollback + 2 screens of lines, plus the stand-in CR.
    expect(backlog.bytes).toBe(linesToKeep(5000, 24) * line.length);
    expect(backlog.takeAll()!.length).toBe(linesToKeep(5000, 24) * line.length + 1);
  });

  it('drops nothing while a scroll region may be set', () => {
    const backlog = new ScreenBacklog(10, 10);
    expect(backlog.push(Buffer.from(`${ESC}[2;9r` + 'line\r\n'.repeat(500)))).toBe(0);
    expect(backlog.push(Buffer.from(`${ESC}[r` + 'line\r\n'.repeat(500)))).toBeGreaterThan(0);
  });
});
