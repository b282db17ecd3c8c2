/**
 * Which bytes of a terminal's output are plain text: printable characters, CR, LF and TAB
 * in valid UTF-8, read while xterm.js's parser is in its ground state. A small model of
 * that parser (its VT500 state table in EscapeSequenceParser.ts): ESC and the C1 codes
 * resynchronise the model with it, and every state that is not certainly ground counts as
 * not plain. It also follows what decides whether LFs push lines into the scrollback: the
 * DECSTBM margins of each buffer.
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

export class PlainTextModel {
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
  /** Whether the scroll region is (certainly) the whole screen, per buffer: [normal, alternate]. */
  #fullRegion = [true, true];
  #alternate = false;

  /** Rows of the screen (a DECSTBM that ends on the last row sets no bottom margin). */
  constructor(public rows: number) {}

  /** Ground state and no UTF-8 sequence begun: a printable ASCII byte, CR, LF or TAB here is plain. */
  get atTextStart(): boolean {
    return this.#state === GROUND && this.#utf8Need === 0;
  }

  /**
   * LFs at the bottom of the screen push lines into the scrollback: no scroll margins, as
   * far as can be known, in either buffer (a mistaken idea of which buffer is active
   * cannot then matter).
   */
  get scrollsWholeScreen(): boolean {
    return this.#fullRegion[0] && this.#fullRegion[1];
  }

  /**
   * Advances the model by one byte; true when the byte is plain text in ground
   * state (printable, CR, LF or TAB, valid UTF-8, not a C1 control).
   */
  step(b: number): boolean {
    if (this.#utf8Need) {
      const ok = this.#utf8Second ? secondByteOk(this.#utf8Lead, b) : (b & 0xc0) === 0x80;
      if (!ok) {
        // Broken sequence: the decoder drops it and reads this byte afresh.
        this.#utf8Need = 0;
        return this.step(b) && false;
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
        return this.step(b) && false;
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
