import path from 'node:path';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/lib/shared/jobs.ts';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';
import { allEvents, FIXTURES, jobsSocket, waitDone, waitFor, writeRegistry } from '../helpers/jobs.ts';

/** Collects job:log events and job:done for one job on one socket. */
function collect(socket: Socket, jobId: string) {
  const got: JobEvent[] = [];
  let done: { status: string } | null = null;
  socket.on('job:log', (m: { jobId: string; events: JobEvent[] }) => {
    if (m.jobId === jobId) got.push(...m.events);
  });
  socket.on('job:done', (m: { jobId: string; status: string }) => {
    if (m.jobId === jobId) done = m;
  });
  return { got, done: () => done };
}

const join = (socket: Socket, jobId: string, after: number) =>
  socket.timeout(5000).emitWithAck('join-job', { jobId, after });

describe('live job stream over Socket.io', () => {
  let s: TestServer;
  let cookie: string;
  let c: ReturnType<typeof client>;

  beforeAll(async () => {
    s = await startTestServer({ MKCLI_REGISTRY: writeRegistry({ fixture: path.join(FIXTURES, 'jobs') }) });
    cookie = await login(s.base);
    c = client(s.base, { cookie });
  });
  afterAll(() => s.close());

  it('replays history then streams live, ending with job:done', async () => {
    const { json: job } = await c.post('/api/jobs', { type: 'make', project: 'fixture', target: 'slow' });
    const socket = await jobsSocket(s.base, cookie);
    const col = collect(socket, job.id);
    const ack = await join(socket, job.id, 0);
    expect(ack.ok).toBe(true);
    await waitFor(async () => col.done(), 20_000, 'job:done');
    const stored = await allEvents(c, job.id);
    expect(col.got.map((e) => e.seq)).toEqual(stored.map((e) => e.seq));
    expect(col.got.map((e) => e.chunk).join('')).toBe(stored.map((e) => e.chunk).join(''));
    expect(col.done()).toMatchObject({ status: 'success' });
    socket.close();
  });

  it('gives every seq exactly once across a dropped socket that rejoins with its last seq', async () => {
    const { json: job } = await c.post('/api/jobs', { type: 'make', project: 'fixture', target: 'slow' });
    const seen: number[] = [];
    let socket = await jobsSocket(s.base, cookie);
    let col = collect(socket, job.id);
    await join(socket, job.id, 0);
    await waitFor(async () => col.got.length >= 3, 10_000, 'first events');
    socket.disconnect();
    seen.push(...col.got.map((e) => e.seq));
    // Let output accumulate while nobody watches.
    await new Promise((r) => setTimeout(r, 400));
    socket = await jobsSocket(s.base, cookie);
    col = collect(socket, job.id);
    await join(socket, job.id, seen[seen.length - 1]);
    await waitFor(async () => col.done(), 20_000, 'job:done after rejoin');
    seen.push(...col.got.map((e) => e.seq));
    const final = await waitDone(c, job.id);
    expect(seen).toEqual(Array.from({ length: final.lastSeq }, (_, i) => i + 1));
    socket.close();
  });

  it('shows several watchers the same bytes', async () => {
    const { json: job } = await c.post('/api/jobs', { type: 'make', project: 'fixture', target: 'count', variables: { N: '20000' } });
    const sockets = await Promise.all([1, 2, 3].map(() => jobsSocket(s.base, cookie)));
    const cols = sockets.map((sk) => collect(sk, job.id));
    await Promise.all(sockets.map((sk, i) => join(sk, job.id, i * 2)));
    await waitFor(async () => cols.every((col) => col.done()), 20_000, 'all watchers done');
    const stored = await allEvents(c, job.id);
    cols.forEach((col, i) => {
      expect(col.got.map((e) => e.seq)).toEqual(stored.slice(i * 2).map((e) => e.seq));
      expect(col.got.map((e) => e.chunk).join('')).toBe(stored.slice(i * 2).map((e) => e.chunk).join(''));
    });
    sockets.forEach((sk) => sk.close());
  });

  it('delivers exact bytes, NUL and invalid UTF-8 included, to a socket that joins in binary', async () => {
    const { json: job } = await c.post('/api/jobs', { type: 'make', project: 'fixture', target: 'binary' });
    await waitDone(c, job.id);
    const socket = await jobsSocket(s.base, cookie);
    const got: Array<{ stream: string; chunk: Buffer }> = [];
    socket.on('job:log', (m: { events: Array<{ stream: string; chunk: Buffer }> }) => got.push(...m.events));
    let done = false;
    socket.on('job:done', () => (done = true));
    await socket.timeout(5000).emitWithAck('join-job', { jobId: job.id, after: 0, encoding: 'binary' });
    await waitFor(async () => done, 5000, 'job:done');
    const out = Buffer.concat(got.filter((e) => e.stream === 'stdout').map((e) => Buffer.from(e.chunk)));
    expect(out.equals(Buffer.from([0x61, 0x00, 0x62, 0xff, 0x63, 0x0a]))).toBe(true);
    socket.close();
  });

  it('answers join-job for a finished job with its history and job:done', async () => {
    const { json: job } = await c.post('/api/jobs', { type: 'make', project: 'fixture', target: 'hello' });
    await waitDone(c, job.id);
    const socket = await jobsSocket(s.base, cookie);
    const col = collect(socket, job.id);
    const ack = await join(socket, job.id, 0);
    expect(ack.job.status).toBe('success');
    await waitFor(async () => col.done(), 5000, 'job:done');
    expect(col.got.map((e) => e.chunk).join('')).toContain('hello from make');
    socket.close();
  });

  it('refuses join-job for a job of another user and for bad input', async () => {
    const { json: job } = await c.post('/api/jobs', { type: 'make', project: 'fixture', target: 'hello' });
    await c.post('/api/admin/users', { username: 'eve', password: 'eve-password', role: 'user' });
    const eve = await jobsSocket(s.base, await login(s.base, 'eve', 'eve-password'));
    expect((await join(eve, job.id, 0)).error.code).toBe('not_found');
    expect((await join(eve, 'not-a-uuid', 0)).error.code).toBe('not_found');
    const admin = await jobsSocket(s.base, cookie);
    expect((await join(admin, job.id, -1)).error.code).toBe('validation_failed');
    eve.close();
    admin.close();
  });

  it('tells list views about status changes with job:updated', async () => {
    const socket = await jobsSocket(s.base, cookie);
    const updates: Array<{ id: string; status: string }> = [];
    socket.on('job:updated', (m: { job: { id: string; status: string } }) => updates.push(m.job));
    const { json: job } = await c.post('/api/jobs', { type: 'make', project: 'fixture', target: 'hello' });
    await waitFor(async () => updates.some((u) => u.id === job.id && u.status === 'success'), 10_000, 'success update');
    expect(updates.filter((u) => u.id === job.id).map((u) => u.status)).toContain('running');
    socket.close();
  });
});
