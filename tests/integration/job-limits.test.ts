import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';
import { allEvents, FIXTURES, rawLog, waitDone, writeRegistry } from '../helpers/jobs.ts';

const registry = () => writeRegistry({ fixture: path.join(FIXTURES, 'jobs') });

describe('output limits', () => {
  let s: TestServer;
  let cookie: string;
  let c: ReturnType<typeof client>;
  beforeAll(async () => {
    s = await startTestServer({ MKCLI_REGISTRY: registry(), JOB_OUTPUT_CAP_BYTES: String(1024 * 1024) });
    cookie = await login(s.base);
    c = client(s.base, { cookie });
  });
  afterAll(() => s.close());

  it('keeps the head and the tail around a marker past the cap, without changing the status', async () => {
    const { json } = await c.post('/api/jobs', { type: 'make', project: 'fixture', target: 'count', variables: { N: '400000' } });
    const job = await waitDone(c, json.id);
    expect(job).toMatchObject({ status: 'success', truncated: true });
    const log = (await rawLog(s.base, cookie, job.id)).toString();
    expect(log.startsWith('1\n2\n3\n')).toBe(true);
    expect(log.endsWith('399999\n400000\n')).toBe(true);
    expect(log.length).toBeLessThanOrEqual(1024 * 1024);
    const system = (await allEvents(c, job.id)).filter((e) => e.stream === 'system').map((e) => e.chunk).join('\n');
    expect(system).toMatch(/Output passed the cap of 1048576 bytes/);
    expect(system).toMatch(/bytes in the middle were not kept/);
  });

  it('back-pressures a flood instead of buffering it: memory stays bounded', async () => {
    const flood = await startTestServer({ MKCLI_REGISTRY: registry() });
    const fc = client(flood.base, { cookie: await login(flood.base) });
    const before = process.memoryUsage().rss;
    let peak = before;
    const { json } = await fc.post('/api/jobs', { type: 'make', project: 'fixture', target: 'flood' });
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      peak = Math.max(peak, process.memoryUsage().rss);
      await new Promise((r) => setTimeout(r, 50));
    }
    await fc.post(`/api/jobs/${json.id}/cancel`);
    const job = await waitDone(fc, json.id);
    expect(job.status).toBe('canceled');
    // Millions of lines were produced and stored; the server held only a few batches at a time.
    expect(job.bytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(peak - before).toBeLessThan(200 * 1024 * 1024);
    const { rows } = await flood.db.query('SELECT sum(octet_length(chunk))::bigint AS n, max(seq) AS m FROM job_events WHERE job_id = $1', [job.id]);
    expect(rows[0].m).toBe(job.lastSeq);
    expect(rows[0].n).toBe(job.bytes);
    await flood.close();
  });
});
