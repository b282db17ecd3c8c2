/**
 * Output waiting for a server-side screen (a headless xterm.js), and the one shortcut that
 * makes a flood cheap: plain text that enough later plain lines will push out of the
 * screen and its scrollback is never parsed.
 *
 * Why it is exact: a run of plain text (printable characters, CR, LF and TAB, with the
 * parser in its ground state) changes only cell contents and the cursor. Once at least
 * `scrollback + 2 × rows` LFs follow in the same run, every row written before them has
 * left the buffer (up to `rows` LFs bring the cursor to the bottom, `rows + scrollback`
 * more push every row above it out), so the screen, the scrollback and the cursor are the
 * same whether or not the earlier part of the run was parsed. The part is replaced by one
 * CR, so the kept text starts at column 0 as it would have after its LF. This holds only
 * while the scroll region is the whole screen (otherwise LFs do not push rows into the
 * scrollback), so a run is never shortened while a DECSTBM margin may be set.
 *
 * "Plain" is decided by a small model of xterm.js's VT500 parser (its state table in
 * EscapeSequenceParser.ts): ESC and the C1 codes resynchronise the model with it, and every
 * state that is not certainly ground counts as not plain. UTF-8 is validated, so a broken
 * sequence never swallows a counted LF. Anything the model is unsure of is simply parsed.
 */

const GROUND = 0;
const ESCAPE = 1;
const ESCAPE_INTERMEDIATE = 2;
const CSI = 3;
const OSC = 4;
/** DCS, SOS, PM and APC: end only with ST (ESC \ or C1 0x9C), CAN or SUB. */
const STRING = 5;
/** ESC inside OSC or a string: the next byte is read as after a plain ESC. */
const STRING_ESCAPE = 6;

const LF = 0x0a;
/** Printable ASCII, TAB, LF and CR: plain text wherever the parser is in ground state. */
const PLAIN_ASCII = new Uint8Array(256);
PLAIN_ASCII.fill(1, 0x20, 0x7f);
PLAIN_ASCII[0x09] = PLAIN_ASCII[0x0a] = PLAIN_ASCII[0x0d] = 1;
const CR = Uint8Array.of(0x0d);

/** How many LFs must follow a cut, in one plain run, for what is before it to be dropped. */
export const linesToKeep = (scrollback: number, rows: number) => scrollback + 2 * rows;

/** A piece of the plain run; `cr` marks the CR that stands for a dropped part (it is no byte of the output). */
interface RunPiece {
  data: Uint8Array;
  pos: number;
  cr?: true;
}

export class ScreenBacklog {
  /** Parsing is in ground state (as far as can be known). */
  #state = GROUND;
  /** UTF-8: continuation bytes still expected, the lead byte, and whether the next byte is the second. */
  #utf8Need = 0;
  #utf8Lead = 0;
  #utf8Second = false;
  /** The CSI sequence being read: its private marker, intermediate, parameters, and whether xterm.js ignores it. */
  #csiMarker = 0;
  #csiIntermediate = 0;
  #csiParams = '';
  #csiIgnored = false;
  /**
   * Whether the scroll region is (certainly) the whole screen, per buffer: [normal,
   * alternate]. Both must be, so that a mistaken idea of which buffer is active cannot
   * lead to a drop.
   */
  #fullRegion = [true, true];
  #alternate = false;

  /** Bytes that will be parsed as they are (not part of the current plain run). */
  #settled: Uint8Array[] = [];
  /** The current trailing plain run; positions count its bytes from its start, dropped ones included. */
  #run: RunPiece[] = [];
  #inRun = false;
  #runLength = 0;
  /** Position after each LF in the run at or after `#dropFrom` (a queue with a moving head). */
  #lfs: number[] = [];
  #lfHead = 0;
  /** Where dropping may start: the run's start, or just after an LF; -1 while there is none. */
  #dropFrom = 0;

  /** Bytes waiting (not dropped, not yet taken). */
  bytes = 0;
  keepLines: number;

  /**
   * `scrollback` and `rows` are the screen's; call `resize` (after `seal`) when the rows change.
   */
  constructor(readonly scrollback: number, public rows: number) {
    this.keepLines = linesToKeep(scrollback, rows);
  }

  /** The screen has `rows` rows from here on (call after `seal`: nothing before may be dropped). */
  resize(rows: number) {
    this.rows = rows;
    this.keepLines = linesToKeep(this.scrollback, rows);
  }

  /**
   * Queues output in stream order. Returns how many bytes of the waiting output were
   * dropped as a result (they count as parsed).
   */
  push(data: Uint8Array): number {
    const n = data.length;
    let from = 0;
    let plain = false;
    for (let i = 0; i < n;) {
      let end = i + 1;
      let next: boolean;
      if (this.#state === GROUND && this.#utf8Need === 0 && PLAIN_ASCII[data[i]]) {
        // The common case, a run of printable ASCII and line ends, without a call per byte.
        while (end < n && PLAIN_ASCII[data[end]]) end++;
        next = true;
      } else {
        next = this.#step(data[i]);
      }
      if (i === 0) plain = next;
      else if (next !== plain) {
        this.#append(data.subarray(from, i), plain);
        from = i;
        plain = next;
      }
      i = end;
    }
    if (from < n) this.#append(data.subarray(from), plain);
    return this.#trim();
  }

  /** Nothing waiting before this point may be dropped any more (a resize or a snapshot follows). */
  seal() {
    if (this.#inRun) this.#endRun();
  }

  /** Everything waiting, in order, for the parser (one piece, or null when nothing waits). */
  takeAll(): Uint8Array | null {
    const out = this.#settled;
    this.#settled = [];
    if (this.#inRun && this.#run.length) {
      for (const p of this.#run) out.push(p.data);
      this.#run = [];
      // What was taken is parsed as it is: later drops start after the next LF.
      this.#lfHead = this.#lfs.length;
      this.#dropFrom = -1;
    }
    this.bytes = 0;
    if (!out.length) return null;
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  #append(data: Uint8Array, plain: boolean) {
    if (plain) return this.#appendPlain(data);
    if (this.#inRun) this.#endRun();
    this.#settled.push(data);
    this.bytes += data.length;
  }

  #appendPlain(data: Uint8Array) {
    if (!this.#inRun) {
      this.#inRun = true;
      this.#runLength = 0;
      this.#lfs = [];
      this.#lfHead = 0;
      this.#dropFrom = 0;
    }
    const base = this.#runLength;
    for (let i = data.indexOf(LF); i >= 0; i = data.indexOf(LF, i + 1)) {
      if (this.#dropFrom < 0) this.#dropFrom = base + i + 1;
      else this.#lfs.push(base + i + 1);
    }
    this.#run.push({ data, pos: base });
    this.#runLength += data.length;
    this.bytes += data.length;
  }

  #endRun() {
    for (const p of this.#run) this.#settled.push(p.data);
    this.#run = [];
    this.#inRun = false;
    this.#lfs = [];
    this.#lfHead = 0;
  }

  /** Drops the part of the run that `keepLines` later LFs push out of the buffer. */
  #trim() {
    const extra = this.#lfs.length - this.#lfHead - this.keepLines;
    if (!this.#inRun || this.#dropFrom < 0 || extra <= 0 || !this.#fullRegion[0] || !this.#fullRegion[1]) return 0;
    const cut = this.#lfs[this.#lfHead + extra - 1];
    this.#lfHead += extra;
    if (this.#lfHead > 4096 && this.#lfHead * 2 > this.#lfs.length) {
      this.#lfs = this.#lfs.slice(this.#lfHead);
      this.#lfHead = 0;
    }
    let dropped = 0;
    const kept: RunPiece[] = [];
    const standIn: RunPiece = { data: CR, pos: cut, cr: true };
    for (const p of this.#run) {
      // The stand-in for an earlier drop: this drop covers it, and gets a new one below.
      if (p.cr) continue;
      const end = p.pos + p.data.length;
      if (end <= this.#dropFrom || p.pos >= cut) {
        if (p.pos >= cut && !kept.includes(standIn)) kept.push(standIn);
        kept.push(p);
        continue;
      }
      if (p.pos < this.#dropFrom) kept.push({ data: p.data.subarray(0, this.#dropFrom - p.pos), pos: p.pos });
      if (end > cut) kept.push(standIn, { data: p.data.subarray(cut - p.pos), pos: cut });
      dropped += Math.min(end, cut) - Math.max(p.pos, this.#dropFrom);
    }
    // The cut can be at the very end of the run (its last byte an LF): the stand-in goes last.
    if (!kept.includes(standIn)) kept.push(standIn);
    this.#run = kept;
    this.bytes -= dropped;
    return dropped;
  }

  /**
   * Advances the parser model by one byte; true when the byte is plain text in ground
   * state (printable, CR, LF or TAB, valid UTF-8, not a C1 control).
   */
  #step(b: number): boolean {
    if (this.#utf8Need) {
      const ok = this.#utf8Second ? secondByteOk(this.#utf8Lead, b) : (b & 0xc0) === 0x80;
      if (!ok) {
        // Broken sequence: the decoder drops it and reads this byte afresh.
        this.#utf8Need = 0;
        return this.#step(b) && false;
      }
      this.#utf8Second = false;
      if (this.#utf8Lead === 0xc2 && b < 0xa0) {
        // U+0080..U+009F: a C1 control, acting in any state.
        this.#utf8Need = 0;
        this.#c1(b);
        return false;
      }
      this.#utf8Need--;
      return this.#state === GROUND;
    }
    if (b >= 0x80) {
      const need = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
      if (!need) return false;
      this.#utf8Need = need;
      this.#utf8Lead = b;
      this.#utf8Second = true;
      // A lead byte is plain in ground. If its character turns out to be a C1 control, the
      // lead ends the run: no cut is ever after it, since a cut needs LFs after it in the run.
      return this.#state === GROUND;
    }
    if (b === 0x18 || b === 0x1a) {
      this.#state = GROUND;
      return false;
    }
    if (b === 0x1b) {
      this.#state = this.#state === OSC || this.#state === STRING ? STRING_ESCAPE : ESCAPE;
      return false;
    }
    switch (this.#state) {
      case GROUND:
        return b >= 0x20 ? b !== 0x7f : b === 0x0a || b === 0x0d || b === 0x09;
      case STRING_ESCAPE:
        if (b === 0x5c) {
          this.#state = GROUND;
          return false;
        }
        this.#state = ESCAPE;
        return this.#step(b) && false;
      case ESCAPE:
        if (b === 0x5b) this.#startCsi();
        else if (b === 0x5d) this.#state = OSC;
        else if (b === 0x50 || b === 0x58 || b === 0x5e || b === 0x5f) this.#state = STRING;
        else if (b >= 0x20 && b <= 0x2f) this.#state = ESCAPE_INTERMEDIATE;
        else if (b >= 0x30 && b <= 0x7e) {
          this.#state = GROUND;
          if (b === 0x63) {
            // RIS: a full reset.
            this.#fullRegion = [true, true];
            this.#alternate = false;
          }
        }
        return false;
      case ESCAPE_INTERMEDIATE:
        if (b >= 0x30 && b <= 0x7e) this.#state = GROUND;
        return false;
      case CSI:
        if (b >= 0x40 && b <= 0x7e) {
          this.#state = GROUND;
          this.#csiDispatch(b);
        } else if (b >= 0x20 && b !== 0x7f) {
          this.#csiByte(b);
        }
        return false;
      case OSC:
        if (b === 0x07) this.#state = GROUND;
        return false;
      default:
        return false;
    }
  }

  /** A C1 control (decoded from UTF-8): the same transitions as xterm.js's "anywhere" rules. */
  #c1(code: number) {
    if (code === 0x9b) this.#startCsi();
    else if (code === 0x9d) this.#state = OSC;
    else if (code === 0x90 || code === 0x98 || code === 0x9e || code === 0x9f) this.#state = STRING;
    else this.#state = GROUND;
  }

  #startCsi() {
    this.#state = CSI;
    this.#csiMarker = 0;
    this.#csiIgnored = false;
    this.#csiIntermediate = 0;
    this.#csiParams = '';
  }

  #csiByte(b: number) {
    if (b >= 0x30 && b <= 0x3b && !this.#csiIntermediate) this.#csiParams += String.fromCharCode(b);
    else if (b >= 0x3c && b <= 0x3f && !this.#csiParams && !this.#csiMarker && !this.#csiIntermediate) this.#csiMarker = b;
    else if (b >= 0x20 && b <= 0x2f) this.#csiIntermediate = b;
    else this.#csiIgnored = true;
  }

  /** The sequences that decide whether LFs scroll the whole screen: DECSTBM, DECSTR, and switching buffers. */
  #csiDispatch(final: number) {
    const buffer = this.#alternate ? 1 : 0;
    const params = this.#csiParams.split(';').map((p) => Number(p.split(':')[0]) || 0);
    if (final === 0x72) {
      // DECSTBM as xterm.js reads it. Anything else ending in "r" (a refused DECSTBM keeps
      // margins unknown here, a variant may set some) counts as "maybe not the whole screen".
      const plain = !this.#csiIgnored && !this.#csiMarker && !this.#csiIntermediate;
      const top = params[0] || 1;
      const bottom = params.length < 2 || params[1] === 0 || params[1] > this.rows ? this.rows : params[1];
      this.#fullRegion[buffer] = plain && top === 1 && bottom === this.rows && bottom > top;
    } else if (this.#csiIgnored) {
      // xterm.js dispatches nothing for it.
    } else if (final === 0x70 && this.#csiIntermediate === 0x21 && !this.#csiMarker) {
      this.#fullRegion[buffer] = true; // DECSTR (soft reset)
    } else if ((final === 0x68 || final === 0x6c) && this.#csiMarker === 0x3f && !this.#csiIntermediate) {
      // DECSET/DECRST 47, 1047, 1049: the other buffer, with margins of its own.
      if (params.some((p) => p === 47 || p === 1047 || p === 1049)) this.#alternate = final === 0x68;
    }
  }
}

/** The second byte of a UTF-8 sequence, with the lead-specific ranges that rule out overlong forms and surrogates. */
function secondByteOk(lead: number, b: number) {
  if (lead === 0xe0) return b >= 0xa0 && b <= 0xbf;
  if (lead === 0xed) return b >= 0x80 && b <= 0x9f;
  if (lead === 0xf0) return b >= 0x90 && b <= 0xbf;
  if (lead === 0xf4) return b >= 0x80 && b <= 0x8f;
  return (b & 0xc0) === 0x80;
}
