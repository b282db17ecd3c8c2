import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { queuedBytes } from '../../server/events/socket-pressure.ts';

/** The live limit of the job stream (job-stream.hub.ts): past it a viewer reads from Postgres. */
const LIVE_LIMIT = 2 * 1024 * 1024;

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup) fn();
  cleanup = [];
});

/** A real Socket.io server and client on loopback; resolves with the server's side of the connection. */
async function connectedPair(): Promise<{ server: Socket; client: ClientSocket }> {
  const httpServer = http.createServer();
  const ioServer = new Server(httpServer);
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
  const { port } = httpServer.address() as AddressInfo;
  const serverSide = new Promise<Socket>((r) => ioServer.once('connection', r));
  const client = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
  cleanup.push(() => {
    client.close();
    void ioServer.close();
  });
  return { server: await serverSide, client };
}

describe('bytes a socket has queued', () => {
  it('counts many small packets at their size: one viewer of many jobs is not taken for a slow one', async () => {
    const { server } = await connectedPair();
    // Emitted in one turn of the event loop, as the hub publishes fifty jobs' batches: the
    // first goes to the network, the rest wait in engine.io until that send completes.
    for (let i = 0; i < 100; i++) server.emit('job:log', { jobId: `job-${i}`, events: [{ seq: 1, chunk: `line ${i}\n` }] });
    expect((server.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length).toBeGreaterThan(50);
    const queued = queuedBytes(server.conn as never);
    expect(queued).toBeGreaterThan(0);
    expect(queued).toBeLessThan(64 * 1024);
  });

  it('counts large binary packets, so a flood to a slow viewer passes the live limit', async () => {
    const { server } = await connectedPair();
    const mib = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 4; i++) server.emit('job:log', { jobId: 'job', events: [{ seq: i + 1, chunk: mib }] });
    // At least three of the four wait in engine.io (the first may already be in the kernel).
    expect(queuedBytes(server.conn as never)).toBeGreaterThanOrEqual(3 * 1024 * 1024);
    // With a limit, counting stops once it is passed.
    const capped = queuedBytes(server.conn as never, LIVE_LIMIT);
    expect(capped).toBeGreaterThanOrEqual(LIVE_LIMIT);
    expect(capped).toBeLessThan(4 * 1024 * 1024);
  });
});
