import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { User } from '../../src/lib/shared/auth.ts';
import { AuditLog } from '../../server/platform/audit.ts';
import type { AuthService } from '../../server/platform/auth/auth.service.ts';
import { testAuthService } from '../helpers/auth.ts';
import type { Db } from '../../server/platform/db.ts';
import { AppError } from '../../server/platform/errors.ts';
import { authenticate, errorHandler } from '../../server/platform/http/middleware.ts';
import { createLogger } from '../../server/platform/logger.ts';
import { ProjectRepository } from '../../server/projects/project.repository.ts';
import { projectRoutes } from '../../server/projects/projects.routes.ts';
import { ProjectsService } from '../../server/projects/projects.service.ts';
import { freshDatabase } from '../helpers/db.ts';
import { client } from '../helpers/server.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/projects');
const BASIC = path.join(FIXTURES, 'basic');
const log = createLogger('silent');
const isRoot = process.getuid?.() === 0;

let database: { db: Db; drop(): Promise<void> };
let tmp: string;
let registry: string;
let service: ProjectsService;
let auth: AuthService;
let admin: User;
let plainUser: User;

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

beforeAll(async () => {
  database = await freshDatabase();
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-projects-')));
  registry = path.join(tmp, 'registry');
  const audit = new AuditLog(database.db, log);
  service = new ProjectsService(new ProjectRepository(database.db), registry, audit, log);
  auth = testAuthService(database.db, audit, log);
  await auth.bootstrapAdmin('admin-password-1', () => {});
  admin = (await auth.login('admin', 'admin-password-1')).user;
  plainUser = await auth.createUser(admin, { username: 'bob', password: 'bob-password', role: 'user' });
});
afterAll(async () => {
  await database.drop();
  fs.rmSync(tmp, { recursive: true, force: true });
});
beforeEach(async () => {
  await database.db.query('DELETE FROM projects');
  fs.writeFileSync(registry, '');
});

describe('project list', () => {
  it('reports each project’s directory status, following symlinks', async () => {
    fs.mkdirSync(path.join(tmp, 'gone-soon'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'a-file'), '');
    fs.rmSync(path.join(tmp, 'linked'), { force: true });
    fs.symlinkSync(BASIC, path.join(tmp, 'linked'));
    fs.rmSync(path.join(tmp, 'dangling'), { force: true });
    fs.symlinkSync(path.join(tmp, 'nowhere'), path.join(tmp, 'dangling'));
    fs.writeFileSync(registry, [
      '# fixtures',
      `basic=${BASIC}`,
      'missing=./does-not-exist',
      'file=./a-file',
      'linked=./linked',
      'dangling=./dangling',
    ].join('\n'));

    const projects = await service.list();
    const byAlias = Object.fromEntries(projects.map((p) => [p.alias, p]));
    expect(projects.map((p) => p.alias)).toEqual(['basic', 'dangling', 'file', 'linked', 'missing']);
    expect(byAlias.basic).toEqual({ alias: 'basic', dir: BASIC, source: 'registry', status: 'ok' });
    expect(byAlias.missing).toMatchObject({ dir: path.join(tmp, 'does-not-exist'), status: 'missing' });
    expect(byAlias.missing.error).toMatch(/does not exist/);
    expect(byAlias.file).toMatchObject({ status: 'not_a_directory' });
    expect(byAlias.linked).toMatchObject({ dir: path.join(tmp, 'linked'), status: 'ok' });
    expect(byAlias.dangling).toMatchObject({ status: 'missing' });
    expect(service.registryErrors()).toEqual([]);
  });

  it.skipIf(isRoot)('marks a directory the server cannot enter as unreadable', async () => {
    const locked = path.join(tmp, 'locked');
    fs.mkdirSync(locked, { recursive: true });
    fs.chmodSync(locked, 0o000);
    try {
      fs.writeFileSync(registry, `locked=${locked}\n`);
      expect((await service.get('locked')).status).toBe('unreadable');
    } finally {
      fs.chmodSync(locked, 0o755);
    }
  });

  it('resolves a symlinked project to its real directory for jobs', async () => {
    fs.rmSync(path.join(tmp, 'linked'), { force: true });
    fs.symlinkSync(BASIC, path.join(tmp, 'linked'));
    fs.writeFileSync(registry, 'linked=./linked\nmissing=./does-not-exist\n');
    expect(await service.resolveDir('linked')).toBe(fs.realpathSync(BASIC));
    const err = await rejection(service.resolveDir('missing'));
    expect(err.status).toBe(409);
    expect(err.message).toMatch(/Project missing is unavailable: .*does-not-exist does not exist/);
    expect((await rejection(service.resolveDir('nope'))).status).toBe(404);
  });

  it('merges UI projects, lets the registry win a shared alias, and reports the clash', async () => {
    fs.writeFileSync(registry, `basic=${BASIC}\nbad line\n`);
    await service.add(admin, { alias: 'nomake', dir: path.join(FIXTURES, 'nomake') });
    await database.db.query('INSERT INTO projects (alias, dir) VALUES ($1, $2)', ['basic', tmp]);

    const projects = await service.list();
    expect(projects.map((p) => [p.alias, p.source, p.dir])).toEqual([
      ['basic', 'registry', BASIC],
      ['nomake', 'ui', fs.realpathSync(path.join(FIXTURES, 'nomake'))],
    ]);
    const errors = service.registryErrors();
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({ line: 2, text: 'bad line' });
    expect(errors[1]).toMatchObject({ line: 1, reason: expect.stringMatching(/also registered in the UI .*registry entry wins/) });
  });
});

describe('UI projects', () => {
  it('adds a project with its real path, audits it, and removes it', async () => {
    fs.rmSync(path.join(tmp, 'via-link'), { force: true });
    fs.symlinkSync(BASIC, path.join(tmp, 'via-link'));
    const added = await service.add(admin, { alias: 'web.app_1', dir: path.join(tmp, 'via-link') });
    expect(added).toEqual({ alias: 'web.app_1', dir: fs.realpathSync(BASIC), source: 'ui', status: 'ok' });
    expect(await service.get('web.app_1')).toEqual(added);
    expect((await service.targets('web.app_1')).targets.map((t) => t.name)).toContain('deploy');

    await service.remove(admin, 'web.app_1');
    expect((await rejection(service.get('web.app_1'))).status).toBe(404);
    const { rows } = await database.db.query(
      `SELECT action, metadata FROM audit_events WHERE type = 'admin' AND metadata->>'alias' = 'web.app_1' ORDER BY id`,
    );
    expect(rows.map((r) => r.action)).toEqual(['project.add', 'project.remove']);
    expect(rows[0].metadata).toEqual({ alias: 'web.app_1', dir: fs.realpathSync(BASIC) });
  });

  it('refuses a duplicate alias, whether it is in the UI or in the registry', async () => {
    await service.add(admin, { alias: 'dup', dir: BASIC });
    const again = await rejection(service.add(admin, { alias: 'dup', dir: BASIC }));
    expect([again.status, again.code]).toEqual([409, 'conflict']);

    fs.writeFileSync(registry, `fromfile=${BASIC}\n`);
    const shadow = await rejection(service.add(admin, { alias: 'fromfile', dir: BASIC }));
    expect(shadow.status).toBe(409);
    expect(shadow.message).toMatch(/registry/);
  });

  it('validates the alias and the directory', async () => {
    for (const input of [
      { alias: 'bad alias', dir: BASIC },
      { alias: 'x'.repeat(65), dir: BASIC },
      { alias: 'rel', dir: 'tests/fixtures/projects/basic' },
      { alias: 'gone', dir: '/nonexistent/vmo' },
      { alias: 'file', dir: path.join(BASIC, 'Makefile') },
    ]) {
      const err = await rejection(service.add(admin, input));
      expect([err.status, err.code], JSON.stringify(input)).toEqual([400, 'validation_failed']);
    }
  });

  it('refuses to remove a registry project and to let a non-admin change anything', async () => {
    fs.writeFileSync(registry, `fromfile=${BASIC}\n`);
    const err = await rejection(service.remove(admin, 'fromfile'));
    expect(err.status).toBe(409);
    expect(err.message).toMatch(/edit the registry file/);
    expect((await rejection(service.remove(admin, 'never-there'))).status).toBe(404);
    expect((await rejection(service.add(plainUser, { alias: 'x', dir: BASIC }))).status).toBe(403);
  });
});

describe('project routes', () => {
  let server: http.Server;
  let base: string;
  let asAdmin: ReturnType<typeof client>;
  let asUser: ReturnType<typeof client>;

  beforeAll(async () => {
    // server/app.ts mounts projectRoutes behind the same middleware; this is that stack in miniature.
    const app = express();
    app.use(express.json());
    app.use(authenticate(auth));
    app.use('/api', projectRoutes(service));
    app.use(errorHandler(log));
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    asAdmin = client(base, { token: (await auth.createToken(admin, 'test')).token });
    asUser = client(base, { token: (await auth.createToken(plainUser, 'test')).token });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('lists projects as a bare array and registry problems separately', async () => {
    fs.writeFileSync(registry, `basic=${BASIC}\nnot a line\n`);
    const list = await asUser.get('/api/projects');
    expect(list.status).toBe(200);
    expect(list.json).toEqual([{ alias: 'basic', dir: BASIC, source: 'registry', status: 'ok' }]);
    const errors = await asUser.get('/api/projects/registry-errors');
    expect(errors.json).toEqual({ errors: [{ line: 2, text: 'not a line', reason: 'expected alias=dir' }] });
  });

  it('lets an admin add and delete a project, and refuses a plain user', async () => {
    const denied = await asUser.post('/api/projects', { alias: 'web', dir: BASIC });
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('forbidden');

    const created = await asAdmin.post('/api/projects', { alias: 'web', dir: BASIC });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ alias: 'web', source: 'ui', status: 'ok' });
    expect((await asAdmin.post('/api/projects', { alias: 'web', dir: BASIC })).status).toBe(409);
    expect((await asAdmin.post('/api/projects', { alias: 'web2' })).json.error.code).toBe('validation_failed');

    expect((await asUser.delete('/api/projects/web')).status).toBe(403);
    expect((await asAdmin.delete('/api/projects/web')).status).toBe(204);
    expect((await asAdmin.delete('/api/projects/web')).status).toBe(404);
  });

  it('answers targets as an array, with details and refresh on request', async () => {
    fs.writeFileSync(registry, `basic=${BASIC}\nnomake=${path.join(FIXTURES, 'nomake')}\nmissing=/nonexistent/vmo\n`);
    const targets = await asUser.get('/api/projects/basic/targets?refresh=1');
    expect(targets.status).toBe(200);
    expect(targets.json).toContainEqual({ name: 'deploy', description: 'Ship the build to production' });
    expect(targets.json.map((t: { name: string }) => t.name)).not.toContain('.PHONY');

    const none = await asUser.get('/api/projects/nomake/targets?details=1');
    expect(none.json).toMatchObject({ targets: [], source: 'none', reason: expect.stringMatching(/No Makefile/) });

    const missing = await asUser.get('/api/projects/missing/targets');
    expect(missing.status).toBe(409);
    expect(missing.json.error.code).toBe('conflict');
    expect((await asUser.get('/api/projects/unknown/targets')).status).toBe(404);
    expect((await asUser.get('/api/projects/basic/targets?refresh=maybe')).status).toBe(400);
  });

  it('requires a signed-in user', async () => {
    expect((await client(base).get('/api/projects')).status).toBe(401);
    expect((await client(base).get('/api/projects/basic/targets')).status).toBe(401);
  });
});
