import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../server/platform/audit.ts';
import type { Db } from '../../server/platform/db.ts';
import { AppError } from '../../server/platform/errors.ts';
import { createLogger } from '../../server/platform/logger.ts';
import { discoverTargets } from '../../server/projects/make-targets.ts';
import { ProjectRepository } from '../../server/projects/project.repository.ts';
import { ProjectsService } from '../../server/projects/projects.service.ts';
import { freshDatabase } from '../helpers/db.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/projects');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-targets-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A bin directory holding the wrapper fixture under `alias`, and a PATH that finds it first. */
function installWrapper(alias: string, script = path.join(FIXTURES, 'wrapper', 'list-targets.sh')) {
  const bin = fs.mkdtempSync(path.join(tmp, 'bin-'));
  fs.copyFileSync(script, path.join(bin, alias));
  fs.chmodSync(path.join(bin, alias), 0o755);
  return `${bin}${path.delimiter}${process.env.PATH}`;
}

const uniqueAlias = () => `vmo-test-${crypto.randomBytes(4).toString('hex')}`;

function projectDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'proj-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('make target discovery', () => {
  it('lists targets of the Makefile and its included files, with their ## descriptions', async () => {
    const list = await discoverTargets(path.join(FIXTURES, 'basic'));
    expect(list.source).toBe('make');
    expect(list.targets).toEqual([
      { name: 'build', description: 'Compile everything' },
      { name: 'clean', description: 'Remove build output' },
      { name: 'deploy', description: 'Ship the build to production' },
      { name: 'hello', description: 'Greet $(NAME)' },
      { name: 'test', description: 'Run the test suite' },
    ]);
    expect(list.inputs).toEqual([path.join(FIXTURES, 'basic', 'Makefile'), path.join(FIXTURES, 'basic', 'extra.mk')]);
  });

  it('hides special targets, pattern rules, the makefiles and files that are only prerequisites', async () => {
    const names = (await discoverTargets(path.join(FIXTURES, 'basic'))).targets.map((t) => t.name);
    for (const hidden of ['.PHONY', '.SUFFIXES', '.DEFAULT', '%.o', 'Makefile', 'extra.mk']) expect(names).not.toContain(hidden);

    const dir = projectDir({
      'Makefile': [
        'all: main.c sub/gen.h ## Build all',
        '\t@echo',
        'sub/gen.h: ; @echo',
        '$(NAME)-x: ; @echo',
        'double:: ; @echo one',
        'double:: ; @echo two',
        'X := value ## not a target',
        'Y = a:b',
        'undocumented: ; @echo',
        'all: CFLAGS = -O2',
      ].join('\n') + '\n',
      'main.c': '',
    });
    const list = await discoverTargets(dir);
    expect(list.targets).toEqual([
      { name: 'all', description: 'Build all' },
      { name: 'double' },
      { name: 'undocumented' },
    ]);
  });

  it('prefers the mkcli wrapper named after the alias when it answers --list-targets', async () => {
    const alias = uniqueAlias();
    const list = await discoverTargets(path.join(FIXTURES, 'wrapper'), { alias, path: installWrapper(alias) });
    expect(list.source).toBe('wrapper');
    expect(list.targets).toEqual([
      { name: 'bare' },
      { name: 'build', description: 'Compile through the wrapper' },
      { name: 'lint', description: 'Check the style' },
      { name: 'release', description: 'Cut a release' },
    ]);
    expect(list.inputs[0]).toMatch(new RegExp(`/${alias}$`));
  });

  it('falls back to make when the wrapper fails, prints nothing, or is not on PATH', async () => {
    const failing = projectDir({ 'fail.sh': '#!/bin/sh\necho broken >&2\nexit 3\n' });
    const silent = projectDir({ 'silent.sh': '#!/bin/sh\nexit 0\n' });
    for (const script of [path.join(failing, 'fail.sh'), path.join(silent, 'silent.sh')]) {
      const alias = uniqueAlias();
      const list = await discoverTargets(path.join(FIXTURES, 'wrapper'), { alias, path: installWrapper(alias, script) });
      expect(list).toMatchObject({ source: 'make', targets: [{ name: 'from-make', description: 'Only make knows this one' }] });
    }
    const absent = await discoverTargets(path.join(FIXTURES, 'wrapper'), { alias: uniqueAlias() });
    expect(absent.source).toBe('make');
  });

  it('returns an empty list with a reason for a directory without a Makefile', async () => {
    const list = await discoverTargets(path.join(FIXTURES, 'nomake'));
    expect(list.targets).toEqual([]);
    expect(list.source).toBe('none');
    expect(list.reason).toMatch(/No Makefile in .*nomake/);
  });

  it('refuses a missing directory with a clear conflict', async () => {
    const err = await rejection(discoverTargets('/nonexistent/vmo/project'));
    expect(err.status).toBe(409);
    expect(err.message).toBe('Project directory /nonexistent/vmo/project does not exist');
  });

  it('reports make’s own error for a Makefile it cannot read', async () => {
    const broken = projectDir({ Makefile: 'all:\n\t@echo\nthis line is not make\n' });
    const err = await rejection(discoverTargets(broken));
    expect(err.status).toBe(409);
    expect(err.message).toMatch(/missing separator/);

    const missingInclude = projectDir({ Makefile: 'include nothere.mk\nall: ; @echo\n' });
    expect((await rejection(discoverTargets(missingInclude))).message).toMatch(/nothere\.mk: No such file or directory/);
  });

  it('still lists targets when only the default goal is broken', async () => {
    const dir = projectDir({ Makefile: 'all: missing.c ## Needs a file that is not there\n\t@echo\nother: ## Fine\n\t@echo\n' });
    expect((await discoverTargets(dir)).targets.map((t) => t.name)).toEqual(['all', 'other']);
  });

  it('kills a Makefile that hangs while being read, within the timeout', async () => {
    const dir = projectDir({ Makefile: 'X := $(shell sleep 30)\nall: ; @echo\n' });
    const started = Date.now();
    const err = await rejection(discoverTargets(dir, { timeoutMs: 300 }));
    expect(err.message).toMatch(/did not finish within 0.3 s/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses output past the cap', async () => {
    const err = await rejection(discoverTargets(path.join(FIXTURES, 'basic'), { maxOutputBytes: 1000 }));
    expect(err.message).toMatch(/printed more than 1000 bytes/);
  });
});

describe('target cache', () => {
  let database: { db: Db; drop(): Promise<void> };
  let service: ProjectsService;
  let dir: string;
  const alias = uniqueAlias();

  beforeAll(async () => {
    database = await freshDatabase();
    dir = projectDir({ Makefile: 'include $(wildcard *.mk)\nfirst: ## The first\n\t@echo\n' });
    const registry = path.join(tmp, 'cache-registry');
    fs.writeFileSync(registry, `${alias}=${dir}\n`);
    const log = createLogger('silent');
    service = new ProjectsService(new ProjectRepository(database.db), registry, new AuditLog(database.db, log), log);
  });
  afterAll(() => database.drop());

  it('notices an edited Makefile without being asked, and rediscovers on refresh', async () => {
    expect((await service.targets(alias)).targets.map((t) => t.name)).toEqual(['first']);

    fs.appendFileSync(path.join(dir, 'Makefile'), 'second: ## The second\n\t@echo\n');
    // Guarantees a different mtime even on a filesystem with coarse timestamps.
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(dir, 'Makefile'), later, later);
    expect((await service.targets(alias)).targets.map((t) => t.name)).toEqual(['first', 'second']);
    expect(await service.hasTarget(alias, 'second')).toBe(true);

    // A new file picked up by a wildcard include changes no file make read last time:
    // the cached list stays until a refresh is asked for.
    fs.writeFileSync(path.join(dir, 'more.mk'), 'third: ## The third\n\t@echo\n');
    expect(await service.hasTarget(alias, 'third')).toBe(false);
    const refreshed = await service.targets(alias, { refresh: true });
    expect(refreshed.targets).toContainEqual({ name: 'third', description: 'The third' });
    expect(await service.hasTarget(alias, 'third')).toBe(true);
  });

  it('serves a repeated request from the cache', async () => {
    const first = await service.targets(alias);
    const second = await service.targets(alias);
    expect(second.targets).toBe(first.targets);
  });
});
