import { afterEach, describe, expect, it } from 'vitest';
import { LIVE_LIMIT_BYTES as LIVE_LIMIT } from '../../server/events/job-stream.hub.ts';
import { queuedBytes } from '../../server/events/socket-pressure.ts';
import { connectedSocketPair } from '../helpers/socket-pair.ts';

let close: (() => void) | undefined;
afterEach(() => close?.());

async function connectedPair() {
  const pair = await connectedSocketPair();
  close = pair.close;
  return pair;
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
