import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';

/**
 * A real Socket.io server and client on loopback, connected. `setup` sees the server before
 * the client connects; `close` ends both. Resolves with the server's side of the connection.
 */
export async function connectedSocketPair(opts: {
  transports?: Array<'websocket' | 'polling'>;
  setup?: (io: Server) => void;
} = {}): Promise<{ server: Socket; client: ClientSocket; close: () => void }> {
  const httpServer = http.createServer();
  const ioServer = new Server(httpServer);
  opts.setup?.(ioServer);
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
  const { port } = httpServer.address() as AddressInfo;
  const serverSide = new Promise<Socket>((r) => ioServer.once('connection', r));
  const client = connect(`http://127.0.0.1:${port}`, { transports: opts.transports ?? ['websocket'], reconnection: false });
  const close = () => {
    client.close();
    void ioServer.close();
  };
  return { server: await serverSide, client, close };
}
