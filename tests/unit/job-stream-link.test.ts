import { afterEach, describe, expect, it, vi } from 'vitest';
import { JobStreamLink } from '../../server/cluster/job-stream-link.ts';
import { createSocketBus, STARTUP_DISCOVERY_MS } from '../../server/cluster/socket-bus.ts';
import { createLogger } from '../../server/platform/logger.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The Socket.io adapter as the link sees it: how many servers it knows, and what was emitted to them. */
function fakeNamespace(discovering?: () => boolean) {
  const state = { servers: 1, emitted: [] as Array<[string, unknown]> };
  const nsp = {
    on: () => {},
    adapter: { serverCount: async () => state.servers },
    serverSideEmit: (event: string, payload: unknown) => state.emitted.push([event, payload]),
  };
  return { state, link: new JobStreamLink(nsp as never, { connectPeers: () => {} } as never, createLogger('silent'), discovering) };
}

describe('job stream link between servers', () => {
  afterEach(() => vi.useRealTimers());

  it('announces output right after start even before it has heard the other servers, and not once it is known to be alone', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    // The bus's own startup window (no database connection is made without a namespace).
    const bus = createSocketBus('postgres://127.0.0.1:1/none', createLogger('silent'));
    bus.introduce({ _nsps: new Map() } as never);
    const { state, link } = fakeNamespace(bus.discovering);
    // Just started: the adapter counts one server, but its answer from the others may have been missed.
    link.committed('job-1', 2);
    await sleep(30);
    expect(state.emitted).toEqual([['cluster:job-events', [['job-1', 2]]]]);

    vi.setSystemTime(Date.now() + STARTUP_DISCOVERY_MS + 1000);
    link.committed('job-2', 5);
    await sleep(30);
    expect(state.emitted).toHaveLength(1);

    state.servers = 2;
    link.committed('job-3', 1);
    await sleep(30);
    expect(state.emitted.at(-1)).toEqual(['cluster:job-events', [['job-3', 1]]]);
    await bus.close();
  });

  it('without a socket bus (one server, in-memory adapter) announces nothing, even at start', async () => {
    const { state, link } = fakeNamespace();
    link.committed('job-1', 2);
    await sleep(30);
    expect(state.emitted).toEqual([]);
  });
});
