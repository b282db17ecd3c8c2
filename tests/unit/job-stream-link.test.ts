import { describe, expect, it } from 'vitest';
import type { JobDone } from '../../src/lib/shared/jobs.ts';
import { JobStreamLink } from '../../server/cluster/job-stream-link.ts';
import { createLogger } from '../../server/platform/logger.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The Socket.io adapter as the link sees it: how many servers it knows, the initial
 * heartbeat that asks the others to answer, and what was emitted to them.
 */
function fakeNamespace() {
  const state = { servers: 1, initialHeartbeats: 0, emitted: [] as Array<[string, unknown]> };
  const nsp = {
    on: () => {},
    adapter: {
      serverCount: async () => state.servers,
      init: () => state.initialHeartbeats++,
    },
    serverSideEmit: (event: string, payload: unknown) => state.emitted.push([event, payload]),
  };
  return { state, link: new JobStreamLink(nsp as never, { connectPeers: () => {} } as never, createLogger('silent')) };
}

describe('job stream link between servers', () => {
  it('right after start, keeps what it announced while it seemed alone and sends it once another server answers', async () => {
    const { state, link } = fakeNamespace();
    const done = { jobId: 'job-1', status: 'success', exitCode: 0 } as unknown as JobDone;
    link.committed('job-1', 1);
    link.committed('job-1', 2);
    link.finished(done, 2);
    await sleep(1200);
    // Nobody known yet: nothing sent, and the others were asked to answer.
    expect(state.emitted).toEqual([]);
    expect(state.initialHeartbeats).toBeGreaterThan(0);
    state.servers = 2;
    await sleep(1200);
    // The cursor first, then the end, so no server sees the end before the last seq.
    expect(state.emitted).toEqual([['cluster:job-events', [['job-1', 2]]], ['cluster:job-done', { done, lastSeq: 2 }]]);
    link.committed('job-2', 5);
    await sleep(50);
    expect(state.emitted.at(-1)).toEqual(['cluster:job-events', [['job-2', 5]]]);
  });
});
