import type { Job } from '../../src/lib/shared/jobs.ts';
import type { EventRepository, StoredEvent } from '../events/event.repository.ts';

/** asciicast v2 header: https://docs.asciinema.org/manual/asciicast/v2/ */
export interface AsciicastHeader {
  version: 2;
  width: number;
  height: number;
  timestamp: number;
  title: string;
  env: { TERM: string; SHELL?: string };
}

const OUTPUT_STREAMS = new Set(['pty', 'stdout', 'stderr']);

function parseSize(chunk: Buffer): { cols: number; rows: number } | null {
  try {
    const { cols, rows } = JSON.parse(chunk.toString('utf8'));
    return Number.isInteger(cols) && Number.isInteger(rows) ? { cols, rows } : null;
  } catch {
    return null;
  }
}

/**
 * A job's recording as asciicast v2 lines (header first, then `[t, code, data]` events),
 * read from job_events page by page so a long session never sits in memory whole.
 * Output is "o", resizes "r" ("COLSxROWS"), recorded keystrokes "i"; times are seconds
 * since the first stored event. System messages (start, exit code) are not part of the
 * terminal's stream and are left out.
 */
export async function* asciicastLines(
  job: Job,
  events: EventRepository,
  fallback: { cols: number; rows: number; shell?: string },
): AsyncGenerator<string> {
  const pageSize = 2000;
  let page = await events.list(job.id, 0, pageSize, 4 * 1024 * 1024);
  const first = page[0];
  const t0 = first ? first.at.getTime() : new Date(job.startedAt ?? job.createdAt).getTime();
  const initial = page.find((e) => e.stream === 'resize');
  const size = (initial && parseSize(initial.chunk)) ?? fallback;
  const header: AsciicastHeader = {
    version: 2,
    width: size.cols,
    height: size.rows,
    timestamp: Math.floor(t0 / 1000),
    title: job.target ? `${job.command} (${job.projectAlias})` : job.command,
    env: { TERM: 'xterm-256color', ...(fallback.shell ? { SHELL: fallback.shell } : {}) },
  };
  yield JSON.stringify(header) + '\n';

  // One decoder per stream: a multibyte character split across two rows stays whole.
  const decoders = new Map<string, TextDecoder>();
  const decode = (e: StoredEvent) => {
    let d = decoders.get(e.stream);
    if (!d) decoders.set(e.stream, (d = new TextDecoder('utf-8')));
    return d.decode(e.chunk, { stream: true });
  };
  let skippedInitial = false;
  while (page.length) {
    let out = '';
    for (const e of page) {
      const t = Math.max(0, (e.at.getTime() - t0) / 1000);
      const ts = Number(t.toFixed(6));
      if (OUTPUT_STREAMS.has(e.stream)) {
        const text = decode(e);
        if (text) out += JSON.stringify([ts, 'o', text]) + '\n';
      } else if (e.stream === 'input') {
        const text = decode(e);
        if (text) out += JSON.stringify([ts, 'i', text]) + '\n';
      } else if (e.stream === 'resize') {
        const s = parseSize(e.chunk);
        // The size the session started with is the header's.
        if (!skippedInitial && e === initial) {
          skippedInitial = true;
          continue;
        }
        if (s) out += JSON.stringify([ts, 'r', `${s.cols}x${s.rows}`]) + '\n';
      }
    }
    if (out) yield out;
    const after = page[page.length - 1].seq;
    if (after >= job.lastSeq) break;
    page = await events.list(job.id, after, pageSize, 4 * 1024 * 1024);
  }
}
