import type { StreamName } from './jobs.ts';

export interface LogLine {
  /** Raw text of the line, ANSI sequences included, without the newline. */
  text: string;
  stream: StreamName;
  /** seq of the event that started the line (for permalinks back to the event stream). */
  seq: number;
}

/**
 * Turns a job's events into numbered lines, the same way on the server (search) and in
 * the browser (rendering), so a line number means the same thing everywhere. Output
 * streams continue the current line until a newline; a system event is always a line of
 * its own. A `\r` that is not part of `\r\n` keeps only what follows it on screen, as a
 * terminal would show a progress bar.
 */
export class LineBuilder {
  readonly lines: LogLine[] = [];
  private open: LogLine | null = null;

  push(seq: number, stream: StreamName, text: string): void {
    if (stream === 'resize' || stream === 'input') return;
    if (stream === 'system') {
      this.close();
      for (const part of text.split('\n')) this.lines.push({ text: part, stream, seq });
      return;
    }
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      const piece = text.slice(start, nl === -1 ? undefined : nl);
      if (piece || nl !== -1) {
        if (!this.open || this.open.stream === 'system') this.open = { text: '', stream, seq };
        this.open.text = overwrite(this.open.text, piece);
      }
      if (nl === -1) break;
      this.lines.push(this.open!);
      this.open = null;
      start = nl + 1;
    }
  }

  /** Lines so far, including a final line without a newline yet. */
  all(): LogLine[] {
    return this.open ? [...this.lines, this.open] : this.lines;
  }

  /** Number of complete lines plus the open one. */
  get count(): number {
    return this.lines.length + (this.open ? 1 : 0);
  }

  get openLine(): LogLine | null {
    return this.open;
  }

  private close() {
    if (this.open) {
      this.lines.push(this.open);
      this.open = null;
    }
  }
}

/**
 * Applies carriage returns in `piece` to `line`: text after a lone \r overwrites from
 * column 0 and what it does not cover stays, as on a terminal. Lengths count characters,
 * so a line mixing colour codes with \r is an approximation.
 */
function overwrite(line: string, piece: string): string {
  if (!piece.includes('\r')) return line + piece;
  const parts = piece.split('\r');
  let current = line + parts[0];
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i];
    // A \r at the very end (or before \n) moves the cursor but overwrites nothing yet.
    if (p === '') continue;
    current = p + current.slice(p.length);
  }
  return current;
}
