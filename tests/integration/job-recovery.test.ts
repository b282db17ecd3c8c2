import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createPool } from '../../server/platform/db.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../server/platform/embedded-postgres.ts';
import { createLogger } from '../../server/platform/logger.ts';
import { migrate } from '../../server/platform/migrator.ts';
import { allEvents, FIXTURES, rawLog, waitDone, waitFor, writeRegistry } from '../helpers/jobs.ts';
import { ADMIN_PASSWORD, client, login } from '../helpers/server.ts';
import { freePort } from '../../server/platform/free-port.ts';
import { freshDatabase } from '../helpers/db.ts';
import { spawnServer } from '../helpers/server-process.ts';

const registry = writeRegistry({ fixture: path.join(FIXTURES, 'jobs') });

describe('database trouble mid-job', () => {
  // A Postgres of its own, because this test stops and restarts it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-outage-'));
  // Open to the postgres user (as root): the database stays in `dir`, removed afterwards.
  fs.chmodSync(dir, 0o755);
  const log = createLogger('silent');
  let pg: EmbeddedDatabase;
  afterAll(async () => {
    await pg?.stop().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing when Postgres restarts, and fails the job clearly when it stays down', async () => {
    pg = await startEmbeddedPostgres(dir, log);
    const port = Number(new URL(pg.url).port);
    const db = createPool(pg.url);
    await migrate(db);
    const config = loadConfig({ LOG_LEVEL: 'silent', MKCLI_REGISTRY: registry, DB_OUTAGE_TIMEOUT_MS: '4000' }); // above a restart's time on a loaded machine
    const app = await createApp({ config, db, log, serveUi: false });
    await app.auth.bootstrapAdmin(ADMIN_PASSWORD, () => {});
    await app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${(app.httpServer.address() as { port: number }).port}`;
    const c = client(base, { cookie: await login(base) });

    // A short outage: the job keeps going and every line is stored once.
    const { json: job } = await c.post('/api/jobs', { type: 'make', project: 'fixture', target: 'slow' });
    await new Promise((r) => setTimeout(r, 300));
    await pg.stop();
    await new Promise((r) => setTimeout(r, 700));
    pg = await startEmbeddedPostgres(dir, log, { port });
    const done = await app.runner.finished(job.id);
    expect(done?.status).toBe('success');
    const text = (await allEvents(c, job.id)).filter((e) => e.stream === 'stdout').map((e) => e.chunk).join('');
    expect(text).toBe(Array.from({ length: 20 }, (_, i) => `line ${i + 1}\n`).join(''));

    // An outage past DB_OUTAGE_TIMEOUT_MS: the process (one that would print for a minute)
    // is stopped, and once the database is back the job is failed with a system event saying why.
    const { json: job2 } = await c.post('/api/jobs', { type: 'make', project: 'fixture', target: 'long' });
    await new Promise((r) => setTimeout(r, 200));
    const finished = app.runner.finished(job2.id)!;
    await pg.stop();
    await new Promise((r) => setTimeout(r, 5000));
    pg = await startEmbeddedPostgres(dir, log, { port });
    const failed = await finished;
    expect(failed.status).toBe('failed');
    const system = (await allEvents(c, job2.id)).filter((e) => e.stream === 'system').map((e) => e.chunk).join('\n');
    expect(system).toMatch(/database was unreachable/);
    await app.close();
    await db.end();
  }, 60_000);
});

describe('a killed server', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((ch) => ch.kill('SIGKILL')));

  function startServer(databaseUrl: string, port: number) {
    const server = spawnServer(port, { DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', MKCLI_REGISTRY: registry, ADMIN_PASSWORD });
    children.push(server.child);
    return server;
  }

  it('marks its running jobs interrupted on the next start and kills what they left', async () => {
    const database = await freshDatabase({ migrate: false });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const first = startServer(database.url, port);
    await first.healthy('the first server');
    const cookie = await login(base);
    const c = client(base, { cookie });
    const { json: job } = await c.post('/api/jobs', { type: 'make', project: 'fixture', target: 'tree' });
    const pid = await waitFor(async () => {
      const m = /grandchild (\d+)/.exec((await rawLog(base, cookie, job.id)).toString());
      return m ? Number(m[1]) : null;
    }, 10_000, 'grandchild pid');
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    expect(() => process.kill(pid, 0)).not.toThrow(); // orphaned, still running

    await startServer(database.url, port).healthy('the second server');
    const c2 = client(base, { cookie: await login(base) });
    const after = await waitDone(c2, job.id, 5000);
    expect(after.status).toBe('interrupted');
    const events = await allEvents(c2, job.id);
    expect(events[events.length - 1]).toMatchObject({ stream: 'system' });
    expect(events[events.length - 1].chunk).toMatch(/Interrupted/);
    await waitFor(async () => {
      try { process.kill(pid, 0); return false; } catch { return true; }
    }, 5000, 'orphaned grandchild to be killed');
  }, 90_000);
});
