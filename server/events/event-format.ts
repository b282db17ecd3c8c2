import type { JobEvent } from '../../src/lib/shared/jobs.ts';
import type { StoredEvent } from './event.repository.ts';

export type WireEncoding = 'utf8' | 'base64' | 'binary';

/**
 * Wire form of an event: UTF-8 text by default (invalid bytes become U+FFFD), base64 for
 * exact bytes over JSON, or the bytes themselves where the transport carries binary
 * (Socket.io sends a Buffer as a binary frame: no decoding, no JSON escaping).
 */
export function toWire(e: StoredEvent, encoding: 'binary'): JobEvent<Buffer>;
export function toWire(e: StoredEvent, encoding?: 'utf8' | 'base64'): JobEvent;
export function toWire(e: StoredEvent, encoding: WireEncoding = 'utf8'): JobEvent<string | Buffer> {
  return {
    seq: e.seq,
    stream: e.stream,
    chunk: encoding === 'binary' ? e.chunk : e.chunk.toString(encoding),
    at: e.at.toISOString(),
  };
}
