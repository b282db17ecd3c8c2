import { LineBuilder } from '../../src/lib/shared/log-lines.ts';
import type { EventRepository } from '../events/event.repository.ts';

// Colour and cursor sequences are not part of what a user searches for.
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;
export const stripAnsi = (s: string) => s.replace(ANSI, '');

export interface SearchHit {
  line: number;
  text: string;
}

/**
 * Searches a job's whole stored log line by line, paging through job_events so memory
 * stays bounded however large the log is. Line numbers (1-based) match the console's.
 */
export async function searchLog(
  events: EventRepository,
  jobId: string,
  query: { text?: string; regex?: RegExp },
  limit: number,
): Promise<{ hits: SearchHit[]; total: number; lines: number }> {
  const builder = new LineBuilder();
  const hits: SearchHit[] = [];
  let total = 0;
  // Lines before `offset` were scanned and dropped; `consumed` counts scanned lines still held.
  let offset = 0;
  let consumed = 0;
  const needle = query.text?.toLowerCase();
  const test = (s: string) => (query.regex ? query.regex.test(s) : s.toLowerCase().includes(needle!));
  const scan = (upTo: number) => {
    for (; consumed < upTo; consumed++) {
      const plain = stripAnsi(builder.lines[consumed].text);
      if (test(plain)) {
        total++;
        if (hits.length < limit) hits.push({ line: offset + consumed + 1, text: plain.slice(0, 500) });
      }
    }
    // Completed lines are no longer needed once scanned.
    if (consumed > 10_000) {
      builder.lines.splice(0, consumed);
      offset += consumed;
      consumed = 0;
    }
  };
  let after = 0;
  for (;;) {
    const page = await events.list(jobId, after, 5000, 4 * 1024 * 1024);
    if (!page.length) break;
    for (const e of page) builder.push(e.seq, e.stream, e.chunk.toString('utf8'));
    after = page[page.length - 1].seq;
    scan(builder.lines.length);
  }
  const open = builder.openLine;
  if (open) {
    builder.lines.push(open);
    scan(builder.lines.length);
  }
  return { hits, total, lines: offset + consumed };
}
