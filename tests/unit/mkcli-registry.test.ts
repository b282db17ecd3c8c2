import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRegistry, readRegistry } from '../../server/projects/mkcli-registry.ts';

const HOME = '/home/dev';
const REGISTRY = '/home/dev/.config/mkcli/registry';

describe('mkcli registry parsing', () => {
  it('ignores comments and blank lines and trims whitespace', () => {
    const r = parseRegistry('# my projects\n\n  api = /srv/api  \n\t# indented comment\nweb=/srv/web\n', REGISTRY, HOME);
    expect(r.errors).toEqual([]);
    expect(r.entries).toEqual([
      { alias: 'api', dir: '/srv/api', line: 3 },
      { alias: 'web', dir: '/srv/web', line: 5 },
    ]);
  });

  it('expands ~ to the home directory and resolves relative dirs against the registry folder', () => {
    const r = parseRegistry('home=~\nsite=~/code/site\nrel=../../work/rel\nhere=./x/\n', REGISTRY, HOME);
    expect(r.entries.map((e) => [e.alias, e.dir])).toEqual([
      ['home', '/home/dev'],
      ['site', '/home/dev/code/site'],
      ['rel', '/home/dev/work/rel'],
      ['here', '/home/dev/.config/mkcli/x'],
    ]);
  });

  it('keeps everything after the first = as the directory', () => {
    expect(parseRegistry('odd=/srv/a=b\n', REGISTRY, HOME).entries[0].dir).toBe('/srv/a=b');
  });

  it('reports bad lines with their line numbers and keeps the good ones', () => {
    const text = ['ok=/srv/ok', 'no equals sign', '=/srv/noalias', 'nodir=', 'bad alias=/srv/x', 'x/y=/srv/y', 'u=~bob/p', 'fine=/srv/fine', ''].join('\n');
    const r = parseRegistry(text, REGISTRY, HOME);
    expect(r.entries.map((e) => e.alias)).toEqual(['ok', 'fine']);
    expect(r.errors.map((e) => [e.line, e.text])).toEqual([
      [2, 'no equals sign'],
      [3, '=/srv/noalias'],
      [4, 'nodir='],
      [5, 'bad alias=/srv/x'],
      [6, 'x/y=/srv/y'],
      [7, 'u=~bob/p'],
    ]);
    expect(r.errors[0].reason).toMatch(/alias=dir/);
    expect(r.errors[1].reason).toMatch(/empty alias/);
    expect(r.errors[2].reason).toMatch(/empty directory/);
  });

  it('keeps the first of duplicate aliases and reports the later ones', () => {
    const r = parseRegistry('api=/srv/one\nweb=/srv/web\napi=/srv/two\n', REGISTRY, HOME);
    expect(r.entries).toEqual([
      { alias: 'api', dir: '/srv/one', line: 1 },
      { alias: 'web', dir: '/srv/web', line: 2 },
    ]);
    expect(r.errors).toEqual([{ line: 3, text: 'api=/srv/two', reason: 'duplicate alias "api" (first defined on line 1)' }]);
  });

  it('accepts CRLF line endings and a byte-order mark', () => {
    const r = parseRegistry('\uFEFFapi=/srv/api\r\nweb=/srv/web\r\n', REGISTRY, HOME);
    expect(r.entries.map((e) => `${e.alias}=${e.dir}`)).toEqual(['api=/srv/api', 'web=/srv/web']);
  });
});

describe('mkcli registry file', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-registry-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('treats a missing file as an empty registry', async () => {
    expect(await readRegistry(path.join(tmp, 'nope', 'registry'))).toEqual({ entries: [], errors: [] });
  });

  it('reports an unreadable file as one error instead of failing', async () => {
    const r = await readRegistry(tmp); // a directory cannot be read as a file
    expect(r.entries).toEqual([]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ line: 0, text: tmp });
    expect(r.errors[0].reason).toMatch(/EISDIR/);
  });

  it('reads a real file, resolving relative dirs against its folder', async () => {
    const file = path.join(tmp, 'registry');
    fs.writeFileSync(file, 'proj=sub/proj\n# done\n');
    const r = await readRegistry(file);
    expect(r.entries).toEqual([{ alias: 'proj', dir: path.join(tmp, 'sub', 'proj'), line: 1 }]);
  });
});
