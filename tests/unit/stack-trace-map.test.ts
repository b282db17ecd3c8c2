import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleServer } from '../../server/tools/server-bundle.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FIXTURE = path.join(ROOT, 'tests/fixtures/stack-trace/throws.ts');

// The server runs compiled, without `--enable-source-maps`: its traces must still name the
// .ts file and line where an error was thrown, or a bug report points nowhere useful.
describe('stack traces of the compiled server', () => {
  let dir: string;
  let bundle: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-stack-'));
    bundle = await bundleServer(ROOT, { entry: path.relative(ROOT, FIXTURE), out: path.relative(ROOT, path.join(dir, 'throws.mjs')) });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (...args: string[]) => spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8' });

  it('name the .ts line of a logged error', () => {
    const r = run('logged');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('TypeError: the fixture failed on purpose');
    expect(lines[1]).toBe(`    at failDeepInside (${FIXTURE}:7:9)`);
    expect(lines[2]).toContain(`${FIXTURE}:12:5`);
    expect(r.stdout).not.toContain('throws.mjs');
  });

  it('name the .ts line of an uncaught error', () => {
    const r = run();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('TypeError: the fixture failed on purpose');
    expect(r.stderr).toContain(`at failDeepInside (${FIXTURE}:7:9)`);
    expect(r.stderr).toContain(`${FIXTURE}:17:3`);
  });

  it('keep the compiled positions when the map is gone', () => {
    fs.renameSync(`${bundle}.map`, `${bundle}.map.away`);
    try {
      const r = run('logged');
      expect(r.stdout).toContain('throws.mjs:');
      expect(r.stdout).not.toContain('throws.ts');
    } finally {
      fs.renameSync(`${bundle}.map.away`, `${bundle}.map`);
    }
  });
});
