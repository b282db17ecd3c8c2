/** asciicast v2 (what `GET /api/jobs/:id/asciicast` serves), parsed for the replay player. */
export interface CastHeader {
  version: 2;
  width: number;
  height: number;
  timestamp?: number;
  title?: string;
}

export type CastEvent = [time: number, code: 'o' | 'i' | 'r' | 'm', data: string];

export interface Cast {
  header: CastHeader;
  /** Output and resize events, in time order (recorded input is not replayed on screen). */
  events: CastEvent[];
  duration: number;
}

export function parseCast(text: string): Cast {
  const lines = text.split('\n').filter((l) => l.trim());
  if (!lines.length) throw new Error('Empty recording');
  const header = JSON.parse(lines[0]) as CastHeader;
  if (header.version !== 2) throw new Error(`Unsupported asciicast version ${header.version}`);
  const events: CastEvent[] = [];
  for (let i = 1; i < lines.length; i++) {
    const e = JSON.parse(lines[i]) as CastEvent;
    if (e[1] === 'o' || e[1] === 'r') events.push(e);
  }
  return { header, events, duration: events.length ? events[events.length - 1][0] : 0 };
}

/**
 * Recording time → playback time with long pauses shortened to `maxIdle` seconds (like
 * asciinema's idle_time_limit), so a terminal left open over lunch replays in seconds.
 */
export function compressIdle(events: CastEvent[], maxIdle: number): number[] {
  const out: number[] = [];
  let prev = 0;
  let t = 0;
  for (const [time] of events) {
    t += Math.min(Math.max(0, time - prev), maxIdle);
    prev = time;
    out.push(t);
  }
  return out;
}

export function parseSize(data: string): { cols: number; rows: number } | null {
  const m = /^(\d+)x(\d+)$/.exec(data);
  return m ? { cols: Number(m[1]), rows: Number(m[2]) } : null;
}
