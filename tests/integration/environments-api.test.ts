import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remoteFixture, type RemoteFixture } from '../helpers/remote-hosts.ts';
import { client, login, startTestServer, type TestServer } from '../helpers/server.ts';

describe('environments and hosts API', () => {
  let fx: RemoteFixture;
  let server: TestServer;
  let admin: ReturnType<typeof client>;

  beforeAll(async () => {
    fx = remoteFixture();
    fx.writeSshConfig('Host web-alias\n  HostName 10.1.2.3\n  User deploy\n  Port 2200\n\nHost *\n  IdentityFile ~/.ssh/id_test\n');
    fx.writeEnvironment('staging', 'template: ubuntu-22.04\nvms:\n  web: { host: web-alias }\n  db: { host: 10.0.0.9, ansible_user: pg, port: 2222, role: primary }\n  plain: { host: 10.0.0.10 }\n');
    fx.writeEnvironment('broken', 'vms:\n  a: { host: 10.0.0.1\n');
    server = await startTestServer(fx.env);
    admin = client(server.base, { cookie: await login(server.base) });
  });

  afterAll(async () => {
    await server?.close();
    fx?.cleanup();
  });

  const envs = async () => (await admin.get('/api/environments')).json as Array<{ name: string; template: string | null; error?: { message: string; line?: number; file: string }; vms: any[] }>;

  it('lists environments with their hosts, user and port as ssh would use them, and a broken file beside them', async () => {
    const list = await envs();
    expect(list.map((e) => e.name)).toEqual(['broken', 'staging']);
    const broken = list[0];
    expect(broken.error).toMatchObject({ file: 'broken/config.yml', message: expect.stringMatching(/invalid YAML/) });
    expect(broken.error!.line).toBeGreaterThan(1);
    const staging = list[1];
    expect(staging.error).toBeUndefined();
    const byName = Object.fromEntries(staging.vms.map((v) => [v.name, v]));
    // `web` is an ssh config alias: its user and port come from there.
    expect(byName.web).toMatchObject({ host: 'web-alias', user: 'deploy', port: 2200, environment: 'staging' });
    expect(byName.db).toMatchObject({ host: '10.0.0.9', user: 'pg', port: 2222, vars: { role: 'primary' } });
    // Neither config.yml nor the ssh config names a user: vm-config's default.
    expect(byName.plain).toMatchObject({ user: 'ubuntu', port: 22 });
    const plain = (await admin.get(`/api/hosts/${byName.plain.id}`)).json;
    expect(plain.ssh.sources.user).toBe('default for environments (ubuntu)');
    const db = (await admin.get('/api/hosts/staging%2Fdb')).json;
    expect(db.ssh.sources).toMatchObject({ user: 'staging/config.yml (ansible_user)', port: 'staging/config.yml (port)' });
  });

  it('picks up edits on disk without a restart; a broken edit keeps the last good hosts; a removed host keeps its row', async () => {
    fx.writeEnvironment('staging', 'template: debian-12\nvms:\n  web: { host: web-alias }\n  cache: { host: 10.0.0.11 }\n');
    let staging = (await envs()).find((e) => e.name === 'staging')!;
    expect(staging.vms.map((v) => v.name).sort()).toEqual(['cache', 'web']);
    const { rows } = await server.db.query(`SELECT name, removed_at IS NOT NULL AS removed FROM hosts WHERE environment = 'staging' ORDER BY name`);
    expect(rows).toEqual([
      { name: 'cache', removed: false }, { name: 'db', removed: true }, { name: 'plain', removed: true }, { name: 'web', removed: false },
    ]);

    fx.writeEnvironment('staging', 'vms: [oops\n');
    staging = (await envs()).find((e) => e.name === 'staging')!;
    expect(staging.error?.message).toMatch(/invalid YAML/);
    // The last good read's hosts and template stay while the file is broken.
    expect(staging.template).toBe('debian-12');
    expect(staging.vms.map((v) => v.name).sort()).toEqual(['cache', 'web']);

    fs.rmSync(path.join(fx.envDir, 'staging'), { recursive: true });
    expect((await envs()).map((e) => e.name)).toEqual(['broken']);
    const db = await admin.get('/api/hosts/staging%2Fdb');
    expect(db.status).toBe(200);
    expect(db.json.removedAt).toBeTruthy();
  });

  it('resolves an ssh config alias with where each setting came from (admins)', async () => {
    const r = await admin.get('/api/ssh/resolve?host=web-alias');
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ hostname: '10.1.2.3', user: 'deploy', port: 2200, knownHostsName: '[10.1.2.3]:2200' });
    expect(r.json.identityFiles[0]).toMatch(/\/\.ssh\/id_test$/);
    expect(r.json.sources.hostname).toBe(`${fx.sshConfig}:2`);
    expect((await admin.get('/api/ssh/resolve?host=-oProxyCommand=x')).status).toBe(400);
  });

  it('a config OpenSSH would refuse is a 400 naming the file and line, not a server error', async () => {
    const good = fs.readFileSync(fx.sshConfig, 'utf8');
    fx.writeSshConfig(`${good}\nHost broken\n  NoSuchOption yes\n`);
    try {
      const r = await admin.get('/api/ssh/resolve?host=web-alias');
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'ssh_config_invalid', message: expect.stringContaining(`${fx.sshConfig}`) });
    } finally {
      fx.writeSshConfig(good);
    }
  });

  it('reports a missing environments folder as empty, not as an error', async () => {
    const other = await startTestServer({ ...fx.env, ENVIRONMENTS_DIR: path.join(fx.dir, 'nowhere') });
    try {
      const c = client(other.base, { cookie: await login(other.base) });
      expect((await c.get('/api/environments')).json).toEqual([]);
      expect((await c.get('/api/environments?details=1')).json).toMatchObject({ exists: false, environments: [] });
    } finally {
      await other.close();
    }
  });
});
