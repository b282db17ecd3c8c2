import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, JobEvent } from '../../src/lib/shared/jobs.ts';
import { freshDatabase } from '../helpers/db.ts';
import { FIXTURES, jobsSocket, waitDone, waitFor, writeRegistry } from '../helpers/jobs.ts';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';
import { newTerminal, Tab } from '../helpers/terminals.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FAST = { SERVER_HEARTBEAT_SECONDS: '1', SERVER_DEAD_SECONDS: '3' };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Collects what a /jobs socket on one server receives for one job. */
async function watch(base: string, cookie: string, jobId: string) {
  const socket = await jobsSocket(base, cookie);
  const events: JobEvent[] = [];
  let packets = 0;
  let packetsBeforeDone = 0;
  let done: { status: string } | null = null;
  socket.on('job:log', (m: { jobId: string; events: JobEvent[] }) => {
    if (m.jobId !== jobId) return;
    packets++;
    events.push(...m.events);
  });
  socket.on('job:done', (m: { jobId: string; status: string }) => {
    if (m.jobId !== jobId) return;
    packetsBeforeDone = packets;
    done = m;
  });
  const ack = await socket.timeout(10_000).emitWithAck('join-job', { jobId, after: 0 });
  expect(ack.ok).toBe(true);
  return { socket, events, done: () => done, packetsBeforeDone: () => packetsBeforeDone };
}

describe('two servers on one database', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let a: TestServer;
  let b: TestServer;
  let cookieA: string;
  let cookieB: string;

  beforeAll(async () => {
    database = await freshDatabase();
    const env = { ...FAST, MKCLI_REGISTRY: writeRegistry({ fixture: path.join(FIXTURES, 'jobs') }), JOB_CANCEL_GRACE_MS: '1000' };
    a = await startTestServer(env, database);
    b = await startTestServer(env, database);
    cookieA = await login(a.base);
    cookieB = await login(b.base);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await database?.drop();
  });

  it('streams a job that runs on A live to a viewer on B, with no gap or duplicate', async () => {
    const started = await client(a.base, { cookie: cookieA }).post('/api/jobs', { type: 'make', project: 'fixture', target: 'slow' });
    expect(started.status).toBe(201);
    const job = started.json as Job;
    const listing = (await client(b.base, { cookie: cookieB }).get('/api/admin/servers')).json;
    expect(listing.servers).toHaveLength(2);
    expect(listing.servers.filter((s: { self: boolean }) => s.self).map((s: { id: string }) => s.id)).toEqual([b.app.serverId]);
    expect(listing.servers.every((s: { alive: boolean; address: string }) => s.alive && /^127\.0\.0\.1:\d+$/.test(s.address))).toBe(true);
    expect(listing.servers.find((s: { id: string }) => s.id === a.app.serverId).runningJobs).toBe(1);
    expect(job.serverId).toBe(a.app.serverId);

    const viewer = await watch(b.base, cookieB, job.id);
    await waitFor(async () => viewer.done(), 20_000, 'job:done on B');
    const seqs = viewer.events.map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    const final = await waitDone(client(b.base, { cookie: cookieB }), job.id);
    expect(seqs.at(-1)).toBe(final.lastSeq);
    const text = viewer.events.map((e) => e.chunk).join('');
    for (let i = 1; i <= 20; i++) expect(text).toContain(`line ${i}\n`);
    // Live, not all at the end: the lines came over several packets while the job ran.
    expect(viewer.packetsBeforeDone()).toBeGreaterThan(3);
    viewer.socket.close();
  });

  it('tells list views on B about jobs that start and end on A', async () => {
    const socket = await jobsSocket(b.base, cookieB);
    const seen: Array<{ id: string; status: string }> = [];
    socket.on('job:updated', ({ job }: { job: Job }) => seen.push({ id: job.id, status: job.status }));
    await new Promise((r) => setTimeout(r, 200));
    const job = (await client(a.base, { cookie: cookieA }).post('/api/jobs', { type: 'make', project: 'fixture', target: 'hello' })).json as Job;
    await waitFor(async () => seen.some((s) => s.id === job.id && s.status === 'success'), 10_000, 'job:updated success on B');
    socket.close();
  });

  it('cancels through B a job that runs on A', async () => {
    const job = (await client(a.base, { cookie: cookieA }).post('/api/jobs', { type: 'make', project: 'fixture', target: 'tree' })).json as Job;
    const viewer = await watch(b.base, cookieB, job.id);
    const grandchild = Number(
      (await waitFor(async () => /grandchild (\d+)/.exec(viewer.events.map((e) => e.chunk).join('')), 10_000, 'grandchild pid'))[1],
    );
    expect(alive(grandchild)).toBe(true);
    const cancel = await client(b.base, { cookie: cookieB }).post(`/api/jobs/${job.id}/cancel`);
    expect(cancel.status).toBe(202);
    const final = await waitDone(client(b.base, { cookie: cookieB }), job.id);
    expect(final.status).toBe('canceled');
    await waitFor(async () => !alive(grandchild), 10_000, 'the grandchild to be killed');
    await waitFor(async () => viewer.done(), 10_000, 'job:done on B');
    expect(viewer.events.map((e) => e.chunk).join('')).toMatch(/Canceled by admin \(through another server\)/);
    viewer.socket.close();
    // A job that is not running anywhere is still a conflict.
    expect((await client(b.base, { cookie: cookieB }).post(`/api/jobs/${job.id}/cancel`)).status).toBe(409);
  });

  it('ends a session on every server when the account is disabled on one', async () => {
    const admin = client(a.base, { cookie: cookieA });
    await admin.post('/api/admin/users', { username: 'roamer', password: 'roamer-password' });
    const onB = await jobsSocket(b.base, await login(b.base, 'roamer', 'roamer-password'));
    const ended = new Promise<string>((resolve) => onB.on('session:ended', (m: { reason: string }) => resolve(m.reason)));
    const { users } = (await admin.get('/api/admin/users')).json;
    const id = users.find((u: { username: string }) => u.username === 'roamer').id;
    await admin.patch(`/api/admin/users/${id}`, { disabled: true });
    expect(await ended).toMatch(/disabled/);
    await waitFor(async () => !onB.connected, 5000, 'the socket on B to close');
  });

  it('attaches to, types into, resizes and flow-controls through B a terminal that runs on A, keyboard included', async () => {
    const job = await newTerminal(client(a.base, { cookie: cookieA }));
    const onA = await Tab.open(a.base, cookieA, job.id);
    expect(onA.ack.keyboard).toBe(true);
    const onB = await Tab.open(b.base, cookieB, job.id);
    expect(onB.ack.ok).toBe(true);
    expect(onB.ack.keyboard).toBe(false);
    expect((await client(b.base, { cookie: cookieB }).get('/api/terminals')).json.terminals.map((t: { id: string }) => t.id)).toContain(job.id);

    onA.tab.type('echo from-a-$((6*7))\r');
    await onB.tab.see(/from-a-42/);
    // Keystrokes from a tab without the keyboard are dropped; taking it moves it across servers.
    onB.tab.type('echo ignored-$((6*7))\r');
    const taken = await onB.tab.socket.timeout(10_000).emitWithAck('take-keyboard', { jobId: job.id });
    expect(taken.ok).toBe(true);
    await waitFor(async () => onA.tab.keyboard === false && onB.tab.keyboard === true, 5000, 'keyboard to move to B');
    onB.tab.type('echo from-b-$((6*7))\r');
    await onA.tab.see(/from-b-42/);
    expect(onA.tab.text()).not.toContain('ignored-42');

    onB.tab.socket.emit('resize', { jobId: job.id, cols: 100, rows: 30 });
    await waitFor(async () => onA.tab.resizes.some((r) => r.cols === 100 && r.rows === 30), 5000, 'resize seen on A');
    const mark = onB.tab.length;
    onB.tab.type('stty size; seq 1 30000\r');
    await onB.tab.see(/30 100/, mark);
    // About 170 KB of output through the other server: only arrives if B's acks reach A's flow control.
    await onB.tab.see(/\b29999\r?\n30000\b/, mark, 30_000);
    expect(onB.tab.lagging).toBe(false);

    onB.tab.type('exit\r');
    await waitDone(client(b.base, { cookie: cookieB }), job.id);
    await waitFor(async () => onB.tab.exit, 5000, 'exit on the tab on B');
    onA.tab.close();
    onB.tab.close();
  });

  it('marks the jobs of a server on another machine that stopped answering as interrupted', async () => {
    // A server row with a stale heartbeat, as a machine that lost power leaves it, and its job.
    const dead = crypto.randomUUID();
    await database.db.query(
      `INSERT INTO console_servers (id, machine, pid, heartbeat_at) VALUES ($1, 'elsewhere/boot', 4242, now() - interval '1 hour')`, [dead],
    );
    const { rows } = await database.db.query(
      `INSERT INTO jobs (type, command, status, server_id, pgid, spec) VALUES ('make', 'make deploy', 'running', $1, 4242,
         '{"procStart": "1", "procMachine": "elsewhere/boot"}') RETURNING id`, [dead],
    );
    const final = await waitDone(client(b.base, { cookie: cookieB }), rows[0].id, 10_000);
    expect(final.status).toBe('interrupted');
    const events = (await client(b.base, { cookie: cookieB }).get(`/api/jobs/${rows[0].id}/events`)).json.events as JobEvent[];
    expect(events.at(-1)!.chunk).toMatch(/stopped answering/);
    expect((await database.db.query('SELECT 1 FROM console_servers WHERE id = $1', [dead])).rowCount).toBe(0);
  });
});

describe('a server killed with SIGKILL', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let b: TestServer;
  let child: ChildProcess | undefined;
  afterAll(async () => {
    child?.kill('SIGKILL');
    await b?.close();
    await database?.drop();
  });

  it('has its jobs marked interrupted by a survivor within the dead-server time, and its processes killed', async () => {
    database = await freshDatabase();
    const registry = writeRegistry({ fixture: path.join(FIXTURES, 'jobs') });
    b = await startTestServer({ ...FAST, MKCLI_REGISTRY: registry }, database);
    const port = 20000 + Math.floor(Math.random() * 20000);
    let out = '';
    child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...FAST, DATABASE_URL: database.url, PORT: String(port), LOG_LEVEL: 'warn', MKCLI_REGISTRY: registry, DATA_DIR: '/tmp/vmo-test-data' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const baseA = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${baseA}/api/health`).catch(() => null))?.ok, 60_000, `server A to start: ${out}`);
    const cookieA = await login(baseA);
    const cookieB = await login(b.base);

    const job = (await client(baseA, { cookie: cookieA }).post('/api/jobs', { type: 'make', project: 'fixture', target: 'tree' })).json as Job;
    const viewer = await watch(b.base, cookieB, job.id);
    const terminal = await newTerminal(client(baseA, { cookie: cookieA }));
    const { tab } = await Tab.open(b.base, cookieB, terminal.id);
    tab.type('echo before-the-crash\r');
    await tab.see(/before-the-crash\r?\n/);
    const grandchild = Number(
      (await waitFor(async () => /grandchild (\d+)/.exec(viewer.events.map((e) => e.chunk).join('')), 10_000, 'grandchild pid'))[1],
    );
    child.kill('SIGKILL');
    // SERVER_DEAD_SECONDS is 3 here; on one machine the dead pid is noticed at B's next heartbeat.
    const final = await waitDone(client(b.base, { cookie: cookieB }), job.id, 15_000);
    expect(final.status).toBe('interrupted');
    await waitFor(async () => !alive(grandchild), 5000, 'the orphaned process group to be killed');
    await waitFor(async () => viewer.done(), 5000, 'job:done for the viewer on B');
    // The tab on B attached to A's terminal is told it ended, not left waiting.
    await waitFor(async () => tab.exit, 10_000, 'exit for the terminal tab on B');
    expect(tab.exit!.status).toBe('interrupted');
    viewer.socket.close();
    tab.close();
  }, 120_000);
});
