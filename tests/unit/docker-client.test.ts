import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Runs `body` in a fresh node process (a module cache of its own) with the client loaded; prints JSON. */
function inFreshProcess(body: string) {
  const script = `
    import { createRequire } from 'node:module';
    import { loadDockerode } from './server/providers/docker/docker-client.ts';
    const loaded = () => Object.keys(createRequire(import.meta.url).cache);
    const grpcLoaded = () => loaded().some((f) => f.includes('@grpc/'));
    const Docker = loadDockerode();
    const docker = new Docker({ socketPath: '/nonexistent/docker.sock' });
    ${body}`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

// Every server holds the Docker client for its whole life; the gRPC stack dockerode loads
// for BuildKit sessions (~7 MB) must stay out of memory until something uses it.
describe('the Docker client', () => {
  it('leaves BuildKit session support unloaded, with the client fully usable', () => {
    const r = inFreshProcess(`
      const listed = await docker.listContainers().then(() => 'listed', (err) => err.code);
      console.log(JSON.stringify({ grpc: grpcLoaded(), listed, getContainer: typeof docker.getContainer('x').inspect }));`);
    expect(r).toEqual({ grpc: false, listed: 'ENOENT', getContainer: 'function' });
  });

  it('loads the real session support the first time it is used', () => {
    const r = inFreshProcess(`
      const session = createRequire(import.meta.url)('dockerode/lib/session.js');
      const before = grpcLoaded();
      const err = await new Promise((resolve) => session(docker, null, (e) => resolve(e)));
      console.log(JSON.stringify({ before, after: grpcLoaded(), err: err?.code ?? null }));`);
    expect(r).toEqual({ before: false, after: true, err: 'ENOENT' });
  });
});
