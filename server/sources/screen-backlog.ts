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
 * "Plain" is decided by PlainTextModel, a model of xterm.js's parser; anything it is unsure
 * of is simply parsed.
 */
import { PlainTextModel } from './plain-text-model.ts';

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
  readonly #text: PlainTextModel;

  /** Bytes that will be parsed as they are (not part of the current plain run). */
  #settled: Uint8Array[] = [];
  /** The current trailing plain run; positions count its bytes from its start, dropped ones included. */
  #run: RunPiece[] = [];
  #inRun = false;
  #runLength = 0;
  /**
   * Position after each of the last `keepLines` LFs of the run after `#dropFrom`, in a ring
   * (a flood has millions of LFs: a growing array of them was most of what the backlog
   * allocated). The position that falls out of it has `keepLines` LFs after it: a cut.
   */
  #lfRing: Float64Array;
  /** The ring's slot for the next LF, and how many slots are filled. */
  #lfNext = 0;
  #lfCount = 0;
  /** The newest position that fell out of the ring and has not been cut at yet, or -1. */
  #cutReady = -1;
  /** Where dropping may start: the run's start, or just after an LF; -1 while there is none. */
  #dropFrom = 0;

  /** Bytes waiting (not dropped, not yet taken). */
  bytes = 0;
  keepLines: number;

  /**
   * `scrollback` and `rows` are the screen's; call `resize` (after `seal`) when the rows change.
   */
  constructor(readonly scrollback: number, rows: number) {
    this.keepLines = linesToKeep(scrollback, rows);
    this.#lfRing = new Float64Array(this.keepLines);
    this.#text = new PlainTextModel(rows);
  }

  /** The screen has `rows` rows from here on (call after `seal`: nothing before may be dropped). */
  resize(rows: number) {
    this.#text.rows = rows;
    this.keepLines = linesToKeep(this.scrollback, rows);
    this.#lfRing = new Float64Array(this.keepLines);
    this.#forgetLfs();
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
      if (this.#text.atTextStart && PLAIN_ASCII[data[i]]) {
        // The common case, a run of printable ASCII and line ends, without a call per byte.
        while (end < n && PLAIN_ASCII[data[end]]) end++;
        next = true;
      } else {
        next = this.#text.step(data[i]);
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
      this.#forgetLfs();
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
      this.#forgetLfs();
      this.#dropFrom = 0;
    }
    const base = this.#runLength;
    let i = data.indexOf(LF);
    if (i >= 0 && this.#dropFrom < 0) {
      this.#dropFrom = base + i + 1;
      i = data.indexOf(LF, i + 1);
    }
    // Locals in the loop: it runs once per line of a flood.
    const ring = this.#lfRing;
    let next = this.#lfNext;
    let count = this.#lfCount;
    let cutReady = this.#cutReady;
    for (; i >= 0; i = data.indexOf(LF, i + 1)) {
      if (count === ring.length) cutReady = ring[next];
      else count++;
      ring[next] = base + i + 1;
      if (++next === ring.length) next = 0;
    }
    this.#lfNext = next;
    this.#lfCount = count;
    this.#cutReady = cutReady;
    this.#run.push({ data, pos: base });
    this.#runLength += data.length;
    this.bytes += data.length;
  }

  #endRun() {
    for (const p of this.#run) this.#settled.push(p.data);
    this.#run = [];
    this.#inRun = false;
    this.#forgetLfs();
  }

  #forgetLfs() {
    this.#lfNext = 0;
    this.#lfCount = 0;
    this.#cutReady = -1;
  }

  /** Drops the part of the run that `keepLines` later LFs push out of the buffer. */
  #trim() {
    const cut = this.#cutReady;
    if (!this.#inRun || this.#dropFrom < 0 || cut < 0 || !this.#text.scrollsWholeScreen) return 0;
    this.#cutReady = -1;
    let dropped = 0;
    const kept: RunPiece[] = [];
    let standInPlaced = false;
    const placeStandIn = () => {
      if (!standInPlaced) kept.push({ data: CR, pos: cut, cr: true });
      standInPlaced = true;
    };
    for (const p of this.#run) {
      // The stand-in for an earlier drop: this drop covers it, and gets a new one below.
      if (p.cr) continue;
      const end = p.pos + p.data.length;
      if (end <= this.#dropFrom || p.pos >= cut) {
        if (p.pos >= cut) placeStandIn();
        kept.push(p);
        continue;
      }
      if (p.pos < this.#dropFrom) kept.push({ data: p.data.subarray(0, this.#dropFrom - p.pos), pos: p.pos });
      if (end > cut) {
        placeStandIn();
        kept.push({ data: p.data.subarray(cut - p.pos), pos: cut });
      }
      dropped += Math.min(end, cut) - Math.max(p.pos, this.#dropFrom);
    }
    // The cut can be at the very end of the run (its last byte an LF): the stand-in goes last.
    placeStandIn();
    this.#run = kept;
    this.bytes -= dropped;
    return dropped;
  }
}
