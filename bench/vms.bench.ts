import crypto from 'node:crypto';
import os from 'node:os';
import Docker from 'dockerode';
import { CONSOLE_LABEL, VM_LABEL } from '../server/providers/docker/container-naming.ts';
import { assertDockerReachable } from '../server/providers/docker/docker-engine.ts';
import { DockerProvider } from '../server/providers/docker/docker.provider.ts';
import { DEFAULT_VM_IMAGE, imageExists } from '../server/providers/docker/vm-image.ts';
import { generateVmKeyPair } from '../server/vms/vm-keys.ts';
import { removeContainersLabelled } from '../tests/helpers/docker.ts';
import { engineEvents, run, waitForBanner, type EngineEvent } from './docker-probes.ts';
import { percentile, printTable, sleep, writeResults } from './lib.ts';
import { startConsole, wall, type Console, type ConsoleRun } from './vm-console.ts';

/**
 * `npm run bench:vms`: a VM through the console against a bare container of the same image,
 * on one dockerd in the same run.
 * 1. create → SSH ready, one at a time: `POST /api/vms` (1 vCPU, 512 MB, 5 GB) until the VM is
 *    `running` with no operation open (from `vm:updated` on `/jobs`) and its sshd sends its
 *    banner; against `docker run -d -p 127.0.0.1::22 IMAGE` done with dockerode (create with
 *    the port binding, start) and with the `docker` CLI, each timed until the banner is read
 *    (a TCP connect is not readiness: docker-proxy accepts before sshd listens). The provider
 *    alone (DockerProvider.create, no queue, no database) is a fourth row. Interleaved, RUNS
 *    times each, each machine removed before the next.
 * 2. where the console's time goes: the provisioning job's event timestamps plus dockerd's
 *    own event stream (container create, start, the host-key exec), per step.
 * 3. CONCURRENT creates at once through the console, with the default provision concurrency
 *    (2) and with VM_PROVISION_CONCURRENCY=CONCURRENT, and as many bare containers at once.
 */
const RUNS = Number(process.env.VMS_RUNS ?? 5);
const CONCURRENT = Number(process.env.VMS_CONCURRENT ?? 10);
const IMAGE = DEFAULT_VM_IMAGE; // what the bench server's console uses (its env has no VM_IMAGE)
const SIZE = { vcpus: 1, memoryMb: 512, diskGb: 5 };
/** Pause between banner probes of the baselines (the console's provider waits 100 ms). */
const PROBE_MS = 20;
/** Marks the baselines' containers (and the provider-alone ones, via its console id) for cleanup. */
const BENCH_LABEL = 'vm-orchestrator.bench';
const RUN_ID = crypto.randomUUID().slice(0, 8);
const SERVER_ENV = {
  VM_CAPACITY_VMS: '50', VM_CAPACITY_VCPUS: '64', VM_CAPACITY_MEMORY_MB: '65536',
  // Provisioning is measured here, not the ledger: enough credits for every create.
  CREDITS_STARTING_GRANT: '1000000',
};

const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
const p99 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 99);
const secs = (ms: number) => (ms / 1000).toFixed(2);
const range = (xs: number[]) => `${secs(Math.min(...xs))}–${secs(Math.max(...xs))}`;

const docker = new Docker();
await assertDockerReachable(docker);
if (!(await imageExists(docker, IMAGE))) throw new Error(`${IMAGE} is not in the Docker Engine: run npm run vm:image first`);

// ---------------------------------------------------------------- the docker CLI

const hasDockerCli = await run(['docker', 'version', '--format', '{{.Client.Version}}']).then((v) => v.trim(), () => null);

// ---------------------------------------------------------------- baselines

interface BareRun {
  ms: number;
  id: string;
  t0: number;
  createdAt: number;
  startedAt: number;
  bannerAt: number;
  probes: number;
}

/** `docker run -d -p 127.0.0.1::22 IMAGE` as the CLI makes it: create with the binding, start; then the banner. */
async function bareDockerode(): Promise<BareRun> {
  const t0 = wall();
  const c = await docker.createContainer({
    Image: IMAGE,
    Labels: { [BENCH_LABEL]: RUN_ID },
    ExposedPorts: { '22/tcp': {} },
    HostConfig: { PortBindings: { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  const createdAt = wall();
  await c.start();
  const startedAt = wall();
  const port = Number((await c.inspect()).NetworkSettings.Ports['22/tcp']?.[0]?.HostPort);
  const { probes } = await waitForBanner(port, PROBE_MS);
  const bannerAt = wall();
  return { ms: bannerAt - t0, id: c.id, t0, createdAt, startedAt, bannerAt, probes };
}

/** The same with the docker CLI: `docker run -d …`, `docker port`, then the banner. */
async function bareCli(): Promise<BareRun> {
  const t0 = wall();
  const id = (await run(['docker', 'run', '-d', '--label', `${BENCH_LABEL}=${RUN_ID}`, '-p', '127.0.0.1::22', IMAGE])).trim();
  const startedAt = wall();
  const published = await run(['docker', 'port', id, '22/tcp']);
  const port = Number(/:(\d+)\s*$/m.exec(published)?.[1]);
  const { probes } = await waitForBanner(port, PROBE_MS);
  const bannerAt = wall();
  return { ms: bannerAt - t0, id, t0, createdAt: NaN, startedAt, bannerAt, probes };
}

const removeContainer = (id: string) => docker.getContainer(id).remove({ force: true, v: true });

/** The console's Docker provider alone: no queue, no database, the key made beforehand. */
const provider = new DockerProvider({ docker, consoleId: `bench-${RUN_ID}` });
async function providerAlone(name: string) {
  const vmId = crypto.randomUUID();
  const sshPublicKey = generateVmKeyPair(name).publicKey;
  const t0 = wall();
  const made = await provider.create({ vmId, name, ...SIZE, sshPublicKey, sshUser: 'root' }, () => {}, new AbortController().signal);
  const returnedAt = wall();
  await waitForBanner(made.sshPort!, PROBE_MS, 10_000);
  const bannerAt = wall();
  return { ms: bannerAt - t0, t0, returnedAt, bannerAt, ref: { vmId, providerId: made.providerId } };
}
type ProviderRun = Awaited<ReturnType<typeof providerAlone>>;


/**
 * Where one console create's time went, from three clocks on this machine: ours (POST,
 * accepted, update seen, banner read), the job's event timestamps, and dockerd's events.
 */
async function breakdown(con: Console, ev: Awaited<ReturnType<typeof engineEvents>>, r: ConsoleRun) {
  const lines = await con.jobLines(r.jobId);
  const at = (re: RegExp) => lines.find((l) => re.test(l.line))?.at ?? NaN;
  const mine = (e: EngineEvent) => e.attrs[VM_LABEL] === r.vmId;
  const pickedAt = at(/^Create(: attempt 1 of \d+)?$/);
  const createdAt = ev.first(mine, 'create', r.postAt - 5);
  const startedAt = ev.first(mine, 'start', r.postAt - 5);
  const execAt = ev.first(mine, 'exec_create', r.postAt - 5);
  const execDoneAt = ev.first(mine, 'exec_die', r.postAt - 5);
  const doneAt = at(/^Create done/);
  const providerSays = Number(/Ready in (\d+) ms/.exec(lines.map((l) => l.line).join('\n'))?.[1]);
  return {
    admission: r.acceptedAt - r.postAt,
    queue: pickedAt - r.acceptedAt,
    beforeContainer: createdAt - pickedAt,
    createToStart: startedAt - createdAt,
    startToBanner: execAt - startedAt,
    hostKeys: execDoneAt - execAt,
    record: doneAt - execDoneAt,
    publish: r.runningAt - doneAt,
    clientBanner: r.bannerAt - r.runningAt,
    workerTotal: doneAt - pickedAt,
    providerReadyMs: providerSays,
    total: r.ms,
    besidesBoot: r.ms - (execAt - startedAt),
  };
}

/** The same steps for the provider alone, from the engine's events. */
function providerBreakdown(ev: Awaited<ReturnType<typeof engineEvents>>, r: ProviderRun) {
  const mine = (e: EngineEvent) => e.attrs[VM_LABEL] === r.ref.vmId;
  const createdAt = ev.first(mine, 'create', r.t0 - 5);
  const startedAt = ev.first(mine, 'start', r.t0 - 5);
  const execAt = ev.first(mine, 'exec_create', r.t0 - 5);
  const execDoneAt = ev.first(mine, 'exec_die', r.t0 - 5);
  return {
    beforeContainer: createdAt - r.t0, createToStart: startedAt - createdAt, startToBanner: execAt - startedAt,
    hostKeys: execDoneAt - execAt, record: r.returnedAt - execDoneAt, clientBanner: r.bannerAt - r.returnedAt, total: r.ms,
    besidesBoot: r.ms - (execAt - startedAt),
  };
}

/** A bare container's steps: the call (or the CLI's spawn) to create, create to start, start to the banner we read. */
function bareBreakdown(ev: Awaited<ReturnType<typeof engineEvents>>, r: BareRun) {
  const mine = (e: EngineEvent) => e.id === r.id;
  const createdAt = ev.first(mine, 'create', r.t0 - 5);
  const startedAt = ev.first(mine, 'start', r.t0 - 5);
  return {
    beforeContainer: createdAt - r.t0, createToStart: startedAt - createdAt, startToBanner: r.bannerAt - startedAt, total: r.ms,
    besidesBoot: r.ms - (r.bannerAt - startedAt),
  };
}

const medians = <T extends Record<string, number>>(rows: T[]) =>
  Object.fromEntries(Object.keys(rows[0]).map((k) => [k, +median(rows.map((r) => r[k]).filter((x) => !Number.isNaN(x))).toFixed(1)])) as Record<keyof T, number>;

/** CONCURRENT creates at once; per VM from its own POST, and until the last one answers. */
async function concurrentConsole(con: Console, label: string) {
  const t0 = wall();
  const runs = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => con.create(`${label}-${i}`)));
  const all = Math.max(...runs.map((r) => r.bannerAt)) - t0;
  const perVm = runs.map((r) => r.ms);
  // Waiting in the queue or for a provision slot ends at the worker's first line.
  const waits: number[] = [];
  const work: number[] = [];
  for (const r of runs) {
    const lines = await con.jobLines(r.jobId);
    const picked = lines.find((l) => /^Create(: attempt 1 of \d+)?$/.test(l.line))?.at ?? NaN;
    const done = lines.find((l) => /^Create done/.test(l.line))?.at ?? NaN;
    waits.push(picked - r.acceptedAt);
    work.push(done - picked);
  }
  const destroyMs = await Promise.all(runs.map((r) => con.destroy(r.vmId)));
  return {
    perVmMs: perVm.map((x) => Math.round(x)), allReadyMs: Math.round(all),
    p50: median(perVm), p99: p99(perVm),
    queueWaitMs: waits.map((x) => Math.round(x)), workerMs: work.map((x) => Math.round(x)),
    destroyAllMs: Math.round(Math.max(...destroyMs)),
    via: runs.map((r) => r.via),
  };
}

async function concurrentBare() {
  const t0 = wall();
  const runs = await Promise.all(Array.from({ length: CONCURRENT }, () => bareDockerode()));
  const all = Math.max(...runs.map((r) => r.bannerAt)) - t0;
  await Promise.all(runs.map((r) => removeContainer(r.id)));
  const perVm = runs.map((r) => r.ms);
  return { perVmMs: perVm.map((x) => Math.round(x)), allReadyMs: Math.round(all), p50: median(perVm), p99: p99(perVm) };
}

// ---------------------------------------------------------------- run

const ev = await engineEvents(docker);
const results: Record<string, unknown> = {
  runs: RUNS, concurrent: CONCURRENT, image: IMAGE, size: SIZE, probeMs: PROBE_MS,
  loadAtStart: os.loadavg().map((x) => +x.toFixed(2)), dockerCli: hasDockerCli,
  engine: await docker.version().then((v) => ({ version: v.Version, api: v.ApiVersion })),
};
let conA: Console | null = null;
let conB: Console | null = null;
try {
  // ed25519 key generation, the console's first step, timed on its own.
  const keygen: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    generateVmKeyPair(`k${i}`);
    keygen.push(performance.now() - t);
  }
  results.keygenMs = +median(keygen).toFixed(2);

  conA = await startConsole({ docker, env: SERVER_ENV, size: SIZE, probeMs: PROBE_MS });
  // Warm-up, not counted: the first create pays for pg-boss's first fetch, docker.info() and JIT.
  const warm = await conA.create(`warm-${RUN_ID}`);
  await conA.destroy(warm.vmId);
  const warmBare = await bareDockerode();
  await removeContainer(warmBare.id);
  results.warmup = { consoleMs: Math.round(warm.ms), bareMs: Math.round(warmBare.ms) };

  const consoleRuns: ConsoleRun[] = [];
  const bareRuns: BareRun[] = [];
  const cliRuns: BareRun[] = [];
  const providerRuns: ProviderRun[] = [];
  const destroyMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const bare = await bareDockerode();
    bareRuns.push(bare);
    await removeContainer(bare.id);
    if (hasDockerCli) {
      const cli = await bareCli();
      cliRuns.push(cli);
      await removeContainer(cli.id);
    }
    const p = await providerAlone(`prov-${i}`);
    providerRuns.push(p);
    await provider.destroy(p.ref, () => {}, new AbortController().signal);
    const c = await conA.create(`bench-${i}`);
    consoleRuns.push(c);
    destroyMs.push(await conA.destroy(c.vmId));
    process.stderr.write(`run ${i + 1}/${RUNS}: console ${secs(c.ms)} s, bare ${secs(bare.ms)} s\n`);
  }
  await sleep(500); // the last engine events
  const consoleSteps = await Promise.all(consoleRuns.map((r) => breakdown(conA!, ev, r)));
  const bareSteps = bareRuns.map((r) => bareBreakdown(ev, r));
  const cliSteps = cliRuns.map((r) => bareBreakdown(ev, r));
  const providerSteps = providerRuns.map((r) => providerBreakdown(ev, r));
  const consoleMs = consoleRuns.map((r) => r.ms);
  const bareMs = bareRuns.map((r) => r.ms);
  const ratio = +(median(consoleMs) / median(bareMs)).toFixed(2);
  results.serial = {
    consoleMs: consoleMs.map(Math.round), bareDockerodeMs: bareMs.map(Math.round), bareCliMs: cliRuns.map((r) => Math.round(r.ms)),
    providerAloneMs: providerRuns.map((r) => Math.round(r.ms)), ratio, destroyMs: destroyMs.map(Math.round),
    runningSeenVia: consoleRuns.map((r) => r.via),
    bareProbes: bareRuns.map((r) => r.probes),
    consoleSteps, providerSteps, bareSteps, cliSteps,
    consoleStepsP50: medians(consoleSteps), providerStepsP50: medians(providerSteps), bareStepsP50: medians(bareSteps),
    cliStepsP50: cliSteps.length ? medians(cliSteps) : null,
  };

  process.stderr.write(`${CONCURRENT} concurrent, provision concurrency 2\n`);
  const conc2 = await concurrentConsole(conA, `c2-${RUN_ID}`);
  results.concurrentDefault = conc2;
  results.anomaliesA = conA.anomalies;
  await conA.close();
  conA = null;

  process.stderr.write(`${CONCURRENT} concurrent, provision concurrency ${CONCURRENT}\n`);
  conB = await startConsole({ docker, env: { ...SERVER_ENV, VM_PROVISION_CONCURRENCY: String(CONCURRENT) }, size: SIZE, probeMs: PROBE_MS });
  const warmB = await conB.create(`warm-${RUN_ID}`);
  await conB.destroy(warmB.vmId);
  const concN = await concurrentConsole(conB, `c${CONCURRENT}-${RUN_ID}`);
  results.concurrentWide = concN;
  results.anomaliesB = conB.anomalies;
  await conB.close();
  conB = null;

  process.stderr.write(`${CONCURRENT} concurrent bare containers\n`);
  const concBare = await concurrentBare();
  results.concurrentBare = concBare;
  results.loadAtEnd = os.loadavg().map((x) => +x.toFixed(2));

  // ---------------------------------------------------------------- tables
  const row = (measure: string, xs: number[], vs: string) => ({ measure, 'p50 s': secs(median(xs)), 'range s': range(xs), 'vs bare': vs });
  const vs = (xs: number[]) => `${(median(xs) / median(bareMs)).toFixed(2)}×`;
  const serialRows = [
    row('bare container, dockerode create + start → banner', bareMs, '1.00×'),
    ...(cliRuns.length ? [row('bare container, `docker run -d` + `docker port` → banner', cliRuns.map((r) => r.ms), vs(cliRuns.map((r) => r.ms)))] : []),
    row('DockerProvider.create alone (no queue, no DB) → banner', providerRuns.map((r) => r.ms), vs(providerRuns.map((r) => r.ms))),
    row('console: POST /api/vms → running, nothing in flight', consoleRuns.map((r) => r.runningAt - r.postAt), vs(consoleRuns.map((r) => r.runningAt - r.postAt))),
    row('console: POST /api/vms → running + banner', consoleMs, `**${ratio}×**`),
    row('console: destroy → destroyed', destroyMs, '-'),
  ];
  const c = medians(consoleSteps);
  const p = medians(providerSteps);
  const b = medians(bareSteps);
  const k = cliSteps.length ? medians(cliSteps) : null;
  const stepRows = [
    { step: 'POST → 202 (admission transaction)', console: c.admission, provider: '-', dockerode: '-', 'docker CLI': '-' },
    { step: '202 → worker\'s first line (queue poll)', console: c.queue, provider: '-', dockerode: '-', 'docker CLI': '-' },
    { step: '→ container created (keys, DB, engine lookups)', console: c.beforeContainer, provider: p.beforeContainer, dockerode: b.beforeContainer, 'docker CLI': k?.beforeContainer ?? '-' },
    { step: 'created → started (key copy, start)', console: c.createToStart, provider: p.createToStart, dockerode: b.createToStart, 'docker CLI': k?.createToStart ?? '-' },
    { step: 'started → banner seen', console: c.startToBanner, provider: p.startToBanner, dockerode: b.startToBanner, 'docker CLI': k?.startToBanner ?? '-' },
    { step: 'host keys read (exec cat)', console: c.hostKeys, provider: p.hostKeys, dockerode: '-', 'docker CLI': '-' },
    { step: 'exec done → "Create done" / returned', console: c.record, provider: p.record, dockerode: '-', 'docker CLI': '-' },
    { step: '"Create done" → vm:updated at the client', console: c.publish, provider: '-', dockerode: '-', 'docker CLI': '-' },
    { step: 'client\'s own banner check', console: c.clientBanner, provider: p.clientBanner, dockerode: '-', 'docker CLI': '-' },
    { step: 'total', console: c.total, provider: p.total, dockerode: b.total, 'docker CLI': k?.total ?? '-' },
    // sshd's first boot (host key generation) varies by seconds on a loaded machine and is the
    // same work for every row; without it the rows compare what each path adds.
    { step: 'total without started → banner', console: c.besidesBoot, provider: p.besidesBoot, dockerode: b.besidesBoot, 'docker CLI': k?.besidesBoot ?? '-' },
  ];
  const concRow = (measure: string, r: { p50: number; p99: number; allReadyMs: number }) =>
    ({ measure, 'per-VM p50 s': secs(r.p50), 'per-VM p99 s': secs(r.p99), 'all ready s': secs(r.allReadyMs) });
  const concRows = [
    concRow(`${CONCURRENT} bare containers at once (dockerode)`, concBare),
    concRow(`${CONCURRENT} console creates, VM_PROVISION_CONCURRENCY=2 (default)`, conc2),
    concRow(`${CONCURRENT} console creates, VM_PROVISION_CONCURRENCY=${CONCURRENT}`, concN),
  ];

  console.log(`\nVMs: one dockerd, ${os.cpus().length} cores, ${RUNS} interleaved runs (median and range), image ${IMAGE}, 1 vCPU / 512 MB / 5 GB\n`);
  printTable(serialRows);
  console.log(`\nWhere the time goes, ms (median of ${RUNS} per step; from dockerd's events and the job's event times)\n`);
  printTable(stepRows);
  console.log(`\nConcurrent creates (each timed from its own request to its banner)\n`);
  printTable(concRows);
  writeResults('vms', results);
} finally {
  await conA?.close().catch((err) => console.error(err));
  await conB?.close().catch((err) => console.error(err));
  ev.close();
  await removeContainersLabelled(docker, `${BENCH_LABEL}=${RUN_ID}`);
  await removeContainersLabelled(docker, `${CONSOLE_LABEL}=bench-${RUN_ID}`);
}
process.exit(0);
