import type { Socket as TcpSocket } from 'node:net';
import type { Socket } from 'socket.io';
import type { Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { batchWebSocketWrites } from '../../server/platform/socket-write-batching.ts';
import { connectedSocketPair } from '../helpers/socket-pair.ts';

let close: (() => void) | undefined;
afterEach(() => close?.());

async function connectedPair(batched: boolean, transports: Array<'websocket' | 'polling'> = ['websocket']) {
  const pair = await connectedSocketPair({ transports, setup: batched ? batchWebSocketWrites : undefined });
  close = pair.close;
  return pair;
}

/** Counts the writes handed to the server side's TCP socket (each is one system call or more). */
function countWrites(server: Socket): { count: number } {
  const tcp = (server.conn as unknown as { transport: { socket: { _socket: TcpSocket } } }).transport.socket._socket;
  const counter = { count: 0 };
  const t = tcp as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const write = t._write.bind(tcp);
  const writev = t._writev.bind(tcp);
  t._write = (...a) => (counter.count++, write(...a));
  t._writev = (...a) => (counter.count++, writev(...a));
  return counter;
}

/** Emits `n` job:log packets with a binary chunk each in one turn, and resolves with what the client received. */
async function emitBurst(server: Socket, client: ClientSocket, n: number): Promise<string[]> {
  const received: string[] = [];
  const all = new Promise<void>((resolve) => {
    client.on('job:log', (m: { seq: number; chunk: ArrayBuffer }) => {
      received.push(`${m.seq}:${Buffer.from(m.chunk).toString()}`);
      if (received.length === n) resolve();
    });
  });
  for (let i = 1; i <= n; i++) server.emit('job:log', { seq: i, chunk: Buffer.from(`line ${i}\n`) });
  await all;
  return received;
}

const expected = (n: number) => Array.from({ length: n }, (_, i) => `${i + 1}:line ${i + 1}\n`);

describe('WebSocket write batching', () => {
  it('sends the packets that waited for the previous send in one write, in order', async () => {
    const { server, client } = await connectedPair(true);
    const writes = countWrites(server);
    expect(await emitBurst(server, client, 100)).toEqual(expected(100));
    // The first packet goes at once; the other 199 frames (a header and a binary frame
    // per emit) wait for it and then go together.
    expect(writes.count).toBeLessThanOrEqual(4);
  });

  it('without it, engine.io writes each frame on its own (what the batching saves)', async () => {
    const { server, client } = await connectedPair(false);
    const writes = countWrites(server);
    expect(await emitBurst(server, client, 100)).toEqual(expected(100));
    expect(writes.count).toBeGreaterThan(100);
  });

  it('batches a connection that started on long-polling once it upgrades to WebSocket', async () => {
    const { server, client } = await connectedPair(true, ['polling', 'websocket']);
    await new Promise<void>((resolve) => {
      const check = () => (server.conn.transport.name === 'websocket' ? resolve() : setTimeout(check, 10));
      check();
    });
    const writes = countWrites(server);
    expect(await emitBurst(server, client, 100)).toEqual(expected(100));
    expect(writes.count).toBeLessThanOrEqual(4);
  });
});
