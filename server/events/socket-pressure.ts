/**
 * Bytes a Socket.io socket has queued but not yet handed to the network. Socket.io has no
 * back-pressure of its own, so the job stream reads these buffers to stop emitting to a
 * slow client (it catches up from Postgres later) instead of growing server memory.
 */
interface EngineLike {
  writeBuffer?: unknown[];
  transport?: { socket?: { bufferedAmount?: number }; writable?: boolean };
}

export function queuedBytes(conn: EngineLike): number {
  // Packets waiting in engine.io count at a nominal 64 KiB: they hold at most one batch each.
  const packets = (conn.writeBuffer?.length ?? 0) * 64 * 1024;
  const ws = conn.transport?.socket?.bufferedAmount ?? 0;
  return packets + ws;
}
