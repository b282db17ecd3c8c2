import type { JobEvent } from '../../src/lib/shared/jobs.ts';
import type { StoredEvent } from './event.repository.ts';

/** Wire form of an event: UTF-8 text by default (invalid bytes become U+FFFD), base64 for exact bytes. */
export function toWire(e: StoredEvent, encoding: 'utf8' | 'base64' = 'utf8'): JobEvent {
  return {
    seq: e.seq,
    stream: e.stream,
    chunk: encoding === 'base64' ? e.chunk.toString('base64') : e.chunk.toString('utf8'),
    at: e.at.toISOString(),
  };
}
