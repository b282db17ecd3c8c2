import type { Server } from 'socket.io';

/** engine.io's WebSocket transport as far as this module touches it. */
interface TransportLike {
  name?: string;
  send?: (packets: unknown[]) => void;
  /** The `ws` WebSocket; `_socket` is its TCP socket. */
  socket?: { _socket?: { cork?: () => void; uncork?: () => void } };
}

const batched = new WeakSet<object>();

/**
 * Makes each flush of a WebSocket connection one write to the network instead of one per
 * packet. engine.io holds the packets emitted while its previous send is on its way and
 * then sends them all, but `ws` writes each as a frame of its own: for a viewer of fifty
 * jobs that is about a hundred writes (every live batch is a header packet and a binary
 * one), each waking the browser's side, where one would do. Corking the TCP socket for
 * the length of the flush gathers them. The bytes and their order are unchanged.
 */
export function batchWebSocketWrites(io: Server): void {
  io.engine.on('connection', (conn: { transport: TransportLike; on: (ev: 'upgrade', fn: (t: TransportLike) => void) => void }) => {
    wrap(conn.transport);
    conn.on('upgrade', wrap);
  });
}

function wrap(transport: TransportLike): void {
  if (transport.name !== 'websocket' || typeof transport.send !== 'function' || batched.has(transport)) return;
  batched.add(transport);
  const send = transport.send.bind(transport);
  transport.send = (packets) => {
    const tcp = transport.socket?._socket;
    if (packets.length < 2 || typeof tcp?.cork !== 'function' || typeof tcp.uncork !== 'function') return send(packets);
    tcp.cork();
    try {
      send(packets);
    } finally {
      tcp.uncork();
    }
  };
}
