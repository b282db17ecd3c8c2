import type Docker from 'dockerode';
import type { Socket } from 'socket.io-client';
import { CONSOLE_LABEL } from '../server/providers/docker/container-naming.ts';
import type { Vm } from '../src/lib/shared/vms.ts';
import { removeContainersLabelled } from '../tests/helpers/docker.ts';
import { waitForBanner } from './docker-probes.ts';
import { benchServer } from './lib.ts';

/**
 * The console side of `npm run bench:vms`: a bench server with the VM engine, creating and
 * destroying VMs through the API and timing them from its `vm:updated` events.
 */

/** Wall-clock milliseconds with sub-millisecond precision (dockerd's events are wall clock too). */
export const wall = () => performance.timeOrigin + performance.now();

export interface ConsoleRun {
  vmId: string;
  jobId: string;
  name: string;
  postAt: number;
  acceptedAt: number;
  runningAt: number;
  via: 'socket' | 'poll';
  bannerAt: number;
  ms: number;
  port: number;
}

const settled = (vm: Vm) => !vm.status.inFlight && vm.status.queued.length === 0;

/** How the bench creates VMs through the console. */
export interface ConsoleSetup {
  docker: Docker;
  /** The server's settings (capacity, credits) and the run's own. */
  env: Record<string, string>;
  size: { vcpus: number; memoryMb: number; diskGb: number };
  /** Pause between banner probes. */
  probeMs: number;
}

/** A bench server with the VM engine on, driven over HTTP and watched over `/jobs` `vm:updated`. */
export async function startConsole({ docker, env, size, probeMs }: ConsoleSetup) {
  const s = await benchServer({}, env);
  // …and no quota in the way (the admin is on the free tier: one VM).
  const me = await s.api('GET', '/api/auth/me');
  await s.api('PUT', `/api/admin/users/${me.user.id}/quota`, { tier: 'unlimited', maxVms: null, vcpus: null, memoryMb: null, diskGb: null });
  const socket: Socket = await s.socket('/jobs');
  const consoleId: string = (await s.db.query('SELECT id FROM console_identity LIMIT 1')).rows[0].id;
  // Every update is kept: one can arrive before the POST that caused it has returned.
  const seen: Array<{ vm: Vm; at: number }> = [];
  const listeners = new Set<(vm: Vm, at: number) => void>();
  const anomalies: string[] = [];
  socket.on('vm:updated', ({ vm }: { vm: Vm }) => {
    const at = wall();
    seen.push({ vm, at });
    if (vm.statusDetail && /attempt|fail/i.test(vm.statusDetail)) anomalies.push(`${vm.name} ${vm.state}: ${vm.statusDetail}`);
    for (const l of listeners) l(vm, at);
  });

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const r = await fetch(`${s.base}${path}`, {
      method, headers: { cookie: s.cookie, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, json: await r.json() };
  }

  /**
   * Until `ok(vm)`: from the socket, with a GET every second as a safety net (a lost update
   * would otherwise hang the run; `via` says which saw it first). An `error` state fails.
   */
  function waitFor(vmId: string, ok: (vm: Vm) => boolean, timeoutMs = 180_000): Promise<{ vm: Vm; at: number; via: 'socket' | 'poll' }> {
    return new Promise((resolve, reject) => {
      const stop = () => {
        listeners.delete(onUpdate);
        clearInterval(poll);
        clearTimeout(timer);
      };
      const check = (vm: Vm, at: number, via: 'socket' | 'poll') => {
        if (vm.id !== vmId) return;
        if (ok(vm)) {
          stop();
          resolve({ vm, at, via });
        } else if (vm.state === 'error' && settled(vm)) {
          stop();
          reject(new Error(`VM ${vm.name} went to error: ${vm.statusDetail}`));
        }
      };
      const onUpdate = (vm: Vm, at: number) => check(vm, at, 'socket');
      listeners.add(onUpdate);
      for (const u of seen) check(u.vm, u.at, 'socket');
      const poll = setInterval(() => {
        void call('GET', `/api/vms/${vmId}`).then((r) => r.status === 200 && check(r.json, wall(), 'poll'), () => {});
      }, 1000);
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`VM ${vmId} not there within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  async function create(name: string): Promise<ConsoleRun> {
    const postAt = wall();
    const r = await call('POST', '/api/vms', { name, ...size });
    const acceptedAt = wall();
    if (r.status !== 202) throw new Error(`POST /api/vms ${r.status}: ${JSON.stringify(r.json)}`);
    const vmId: string = r.json.vm.id;
    const ready = await waitFor(vmId, (v) => v.state === 'running' && settled(v));
    const port = ready.vm.sshPort!;
    await waitForBanner(port, probeMs, 10_000);
    const bannerAt = wall();
    return { vmId, jobId: r.json.jobId, name, postAt, acceptedAt, runningAt: ready.at, via: ready.via, bannerAt, ms: bannerAt - postAt, port };
  }

  async function destroy(vmId: string): Promise<number> {
    const t0 = wall();
    const r = await call('POST', `/api/vms/${vmId}/actions`, { action: 'destroy' });
    if (r.status !== 202) throw new Error(`destroy ${vmId}: ${r.status} ${JSON.stringify(r.json)}`);
    const done = await waitFor(vmId, (v) => v.state === 'destroyed' && settled(v));
    return done.at - t0;
  }

  /** The provisioning job's lines with the time each event was written (merged stdout rows share the first line's time). */
  async function jobLines(jobId: string): Promise<Array<{ stream: string; line: string; at: number }>> {
    const r = await call('GET', `/api/jobs/${jobId}/events?limit=10000`);
    return (r.json.events as Array<{ stream: string; chunk: string; at: string }>).flatMap((e) =>
      e.chunk.split('\n').filter(Boolean).map((line) => ({ stream: e.stream, line, at: Date.parse(e.at) })));
  }

  return {
    s, consoleId, seen, anomalies, create, destroy, jobLines, call,
    async close() {
      // Whatever is left (a failed run) goes through the API first, then by label as a safety net.
      const open = (await call('GET', '/api/vms')).json.filter((v: Vm) => v.source === 'provisioned' && v.state !== 'destroyed');
      await Promise.all(open.map((v: Vm) => destroy(v.id).catch(() => {})));
      socket.close();
      await s.close();
      await removeContainersLabelled(docker, `${CONSOLE_LABEL}=${consoleId}`);
    },
  };
}
export type Console = Awaited<ReturnType<typeof startConsole>>;
