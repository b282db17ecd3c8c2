/**
 * Bytes a Socket.io socket has queued but not yet handed to the network. Socket.io has no
 * back-pressure of its own, so the job stream reads these buffers to stop emitting to a
 * slow client (it catches up from Postgres later) instead of growing server memory.
 */
interface EngineLike {
  writeBuffer?: Array<{ data?: unknown }>;
  transport?: { socket?: { bufferedAmount?: number }; writable?: boolean };
}

/**
 * Counts each packet waiting in engine.io at its real size, and stops counting once `limit`
 * is reached (the caller only asks whether it is). A fixed size per packet would make one
 * viewer of fifty jobs look slow: engine.io holds every packet emitted while the previous
 * send is on its way, and fifty small batches at 64 KiB each passed the live limit while
 * the socket held a few kilobytes.
 */
export function queuedBytes(conn: EngineLike, limit = Number.POSITIVE_INFINITY): number {
  let n = conn.transport?.socket?.bufferedAmount ?? 0;
  for (const packet of conn.writeBuffer ?? []) {
    if (n >= limit) break;
    const data = packet.data;
    // A string counts one byte a character: exact for the ASCII of JSON framing, low by at
    // most 3x for other text, which only moves when a slow client falls back to Postgres.
    if (typeof data === 'string') n += data.length;
    else if (data && typeof (data as ArrayBufferLike).byteLength === 'number') n += (data as ArrayBufferLike).byteLength;
  }
  return n;
}
