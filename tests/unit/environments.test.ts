import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lineOfPath, parseEnvironment } from '../../server/inventory/environments.ts';
import { EnvironmentsSource } from '../../server/inventory/environments.source.ts';

const FILE = 'staging/config.yml';

describe('environment config.yml parsing', () => {
  it('reads template and hosts, with ansible_user and port, keeping other keys as vars', () => {
    const env = parseEnvironment('staging', [
      'template: ubuntu-22.04',
      'vms:',
      '  web-1:',
      '    host: 10.0.0.5',
      '    ansible_user: deploy',
      '    port: 2222',
      '    role: web',
      '  db-1: { host: db.internal }',
    ].join('\n'), FILE);
    expect(env.error).toBeUndefined();
    expect(env.template).toBe('ubuntu-22.04');
    expect(env.hosts).toEqual([
      { name: 'web-1', host: '10.0.0.5', user: 'deploy', port: 2222, vars: { role: 'web' } },
      { name: 'db-1', host: 'db.internal', user: null, port: null, vars: {} },
    ]);
  });

  it('accepts ansible_host and ansible_port as the Ansible spellings', () => {
    const env = parseEnvironment('prod', 'vms:\n  a:\n    ansible_host: a.example\n    ansible_port: "2200"\n', 'prod/config.yml');
    expect(env.hosts[0]).toMatchObject({ host: 'a.example', port: 2200 });
  });

  it('reports invalid YAML with its line and lists no hosts from the file', () => {
    const env = parseEnvironment('staging', 'template: x\nvms:\n  web-1: { host: a\n  db: b\n', FILE);
    expect(env.error).toMatchObject({ file: FILE });
    expect(env.error!.message).toMatch(/invalid YAML/);
    expect(env.error!.line).toBeGreaterThanOrEqual(3);
    expect(env.hosts).toEqual([]);
  });

  it('names the line of a schema problem and counts the others', () => {
    const text = 'vms:\n  ok:\n    host: 10.0.0.1\n  bad:\n    host: 10.0.0.2\n    port: 99999\n  nohost:\n    ansible_user: x\n';
    const env = parseEnvironment('staging', text, FILE);
    expect(env.error).toEqual({ file: FILE, line: 6, message: 'vms.bad.port: "99999" is not a port (1-65535) (and 1 more problem)' });
    expect(env.hosts).toEqual([]);
  });

  it('refuses host values that would read as options or hold spaces', () => {
    expect(parseEnvironment('s', 'vms:\n  a: { host: "-oProxyCommand=x" }\n', FILE).error!.message).toMatch(/not a host name/);
    expect(parseEnvironment('s', 'vms:\n  a: { host: "a b" }\n', FILE).error!.message).toMatch(/not a host name/);
  });

  it('treats an empty file, a list, and a bad folder name as errors', () => {
    expect(parseEnvironment('s', '', FILE).error!.message).toMatch(/empty/);
    expect(parseEnvironment('s', '- a\n- b\n', FILE).error!.message).toMatch(/mapping/);
    expect(parseEnvironment('bad name', 'vms: {}\n', FILE).error!.message).toMatch(/folder name/);
  });

  it('allows an environment with no vms yet', () => {
    expect(parseEnvironment('s', 'template: t\n', FILE)).toMatchObject({ template: 't', hosts: [] });
    expect(parseEnvironment('s', 'template: t\nvms:\n', FILE).error).toBeUndefined();
  });

  it('finds the line of a nested key by indentation', () => {
    const text = 'vms:\n  port:\n    host: x\n  web:\n    port: 1\n';
    expect(lineOfPath(text, ['vms', 'web', 'port'])).toBe(5);
    expect(lineOfPath(text, ['vms', 'missing'])).toBe(1);
  });
});

describe('environments folder', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmo-envs-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists every folder, reports a broken one beside good ones, and sees edits at the next read', async () => {
    fs.mkdirSync(path.join(dir, 'good'));
    fs.writeFileSync(path.join(dir, 'good', 'config.yml'), 'vms:\n  a: { host: 127.0.0.1 }\n');
    fs.mkdirSync(path.join(dir, 'broken'));
    fs.writeFileSync(path.join(dir, 'broken', 'config.yml'), 'vms: [\n');
    fs.mkdirSync(path.join(dir, 'empty'));
    const source = new EnvironmentsSource(dir);

    const first = await source.read();
    expect(first.environments.map((e) => [e.name, e.hosts.length, e.error?.message ?? null])).toEqual([
      ['broken', 0, expect.stringMatching(/invalid YAML/)],
      ['empty', 0, 'no config.yml in empty/'],
      ['good', 1, null],
    ]);

    fs.writeFileSync(path.join(dir, 'good', 'config.yml'), 'vms:\n  a: { host: 127.0.0.1 }\n  b: { host: 127.0.0.2 }\n');
    const second = await source.read();
    expect(second.signature).not.toBe(first.signature);
    expect(second.environments.find((e) => e.name === 'good')!.hosts.map((h) => h.name)).toEqual(['a', 'b']);
  });

  it('reports a missing folder as no environments', async () => {
    const snap = await new EnvironmentsSource(path.join(dir, 'nope')).read();
    expect(snap).toMatchObject({ exists: false, environments: [] });
  });
});
