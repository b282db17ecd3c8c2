import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkOvhAuth, fail, flavorCatalog, imageCatalog, ok, type Flavor, type Image, type Result, type SshKey } from './fake-ovh-api.ts';

/**
 * A local stand-in for the OVH API v1 (Public Cloud subset), for tests only: OVH cannot be
 * reached from CI. It checks what OVH checks (application key, consumer key, timestamp window,
 * signature over the full URL and exact body) and answers with OVH's error shape, so a client
 * that passes here signs like one that passes there. Instances change status on their own after
 * configurable delays, evaluated lazily on read (no timers to leak).
 */

export interface FakeOvhOptions {
  applicationKey?: string;
  applicationSecret?: string;
  consumerKey?: string;
  serviceName?: string;
  region?: string;
  /** Seconds added to this machine's clock to make the fake's clock (a skewed OVH). */
  clockSkewSeconds?: number;
  /** How far a request timestamp may be from the fake's clock. */
  timestampWindowSeconds?: number;
  /** BUILD → ACTIVE after this long. */
  buildDelayMs?: number;
  /** start/stop/delete settle after this long. */
  actionDelayMs?: number;
}

/** One programmed misbehaviour for one route, used up by matching requests in order. */
export type FakeOvhFault =
  /** Answer with this status and OVH's error shape instead of handling the request. */
  | { respond: number; errorCode?: string; errorClass?: string; message?: string; times?: number }
  /** Wait this long before handling the request (a client with a shorter deadline times out). */
  | { hangMs: number; times?: number }
  /** Handle the request, then drop the connection without answering (the effect happens, the answer is lost). */
  | { loseResponse: true; times?: number }
  /** On instance creation: the build ends in ERROR instead of ACTIVE. */
  | { buildError: true; times?: number };

export interface RecordedRequest {
  method: string;
  /** Path below the API root, without query (e.g. `/cloud/project/p1/instance`). */
  path: string;
  query: Record<string, string>;
  body: unknown;
  /** What the fake answered; 0 when it dropped the connection. */
  status: number;
}

export interface FakeInstance {
  id: string;
  name: string;
  status: string;
  flavorId: string;
  imageId: string;
  region: string;
  sshKeyId: string | null;
  ipAddresses: { ip: string; type: string; version: number; networkId: string; gatewayIp: string | null }[];
  created: string;
  monthlyBilling: null;
  userData?: string;
}

interface Pending {
  status: string;
  at: number;
}

/** An instance with what the fake keeps to itself: the status it is heading to, and whether its build fails. */
type StoredInstance = FakeInstance & { pending?: Pending; failBuild?: boolean };

type Handler = (ctx: { params: Record<string, string>; query: URLSearchParams; body: any; fault: FakeOvhFault | null }) => Result;

const DEFAULTS = {
  applicationKey: 'fake-app-key',
  applicationSecret: 'fake-app-secret',
  consumerKey: 'fake-consumer-key',
  serviceName: 'fakeproject0001',
  region: 'GRA11',
};

export class FakeOvh {
  readonly requests: RecordedRequest[] = [];
  readonly applicationKey: string;
  readonly applicationSecret: string;
  readonly consumerKey: string;
  readonly serviceName: string;
  readonly region: string;
  clockSkewSeconds: number;
  timestampWindowSeconds: number;
  buildDelayMs: number;
  actionDelayMs: number;

  private readonly server: http.Server;
  private port = 0;
  private readonly routes: { method: string; pattern: string; regex: RegExp; keys: string[]; handler: Handler }[] = [];
  private readonly faults = new Map<string, FakeOvhFault[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly flavors: Flavor[];
  private readonly images: Image[];
  private readonly sshKeys = new Map<string, SshKey>();
  private readonly instanceStore = new Map<string, StoredInstance>();
  private nextIp = 10;

  private constructor(options: FakeOvhOptions) {
    this.applicationKey = options.applicationKey ?? DEFAULTS.applicationKey;
    this.applicationSecret = options.applicationSecret ?? DEFAULTS.applicationSecret;
    this.consumerKey = options.consumerKey ?? DEFAULTS.consumerKey;
    this.serviceName = options.serviceName ?? DEFAULTS.serviceName;
    this.region = options.region ?? DEFAULTS.region;
    this.clockSkewSeconds = options.clockSkewSeconds ?? 0;
    this.timestampWindowSeconds = options.timestampWindowSeconds ?? 30;
    this.buildDelayMs = options.buildDelayMs ?? 100;
    this.actionDelayMs = options.actionDelayMs ?? 50;
    this.flavors = flavorCatalog(this.region);
    this.images = [...imageCatalog(this.region), ...imageCatalog('SBG5')];
    this.server = http.createServer((req, res) => this.dispatch(req, res));
    this.defineRoutes();
  }

  static async start(options: FakeOvhOptions = {}): Promise<FakeOvh> {
    const fake = new FakeOvh(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** The API root to give a client, like `https://eu.api.ovh.com/1.0`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/1.0`;
  }

  get credentials() {
    return { applicationKey: this.applicationKey, applicationSecret: this.applicationSecret, consumerKey: this.consumerKey };
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Queues a fault for a route named like `GET /cloud/project/:sn/instance/:id`. */
  fault(route: string, fault: FakeOvhFault): void {
    if (!this.routes.some((r) => `${r.method} ${r.pattern}` === route)) throw new Error(`fake OVH has no route ${route}`);
    const queue = this.faults.get(route) ?? [];
    queue.push({ times: 1, ...fault });
    this.faults.set(route, queue);
  }

  /** Requests matching a method and a path (a string for equality or a pattern). */
  requestsTo(method: string, path: string | RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)));
  }

  /** Instances as stored now (statuses advanced), including ones being deleted. */
  instances(): FakeInstance[] {
    return [...this.instanceStore.values()].map((i) => this.view(i));
  }

  keys(): SshKey[] {
    return [...this.sshKeys.values()];
  }

  /** Puts an instance in place as if made elsewhere (by a person, or another tool). */
  seedInstance(name: string, status = 'ACTIVE'): FakeInstance {
    const flavor = this.flavors.find((f) => f.name === 'b2-7')!;
    const instance = this.newInstance(name, flavor.id, this.images[0]!.id, null);
    instance.status = status;
    if (status === 'ACTIVE') instance.ipAddresses = this.addresses();
    this.instanceStore.set(instance.id, instance);
    return this.view(instance);
  }

  /** The fake's clock in seconds: this machine's clock plus the configured skew. */
  clock(): number {
    return Math.floor(Date.now() / 1000) + this.clockSkewSeconds;
  }

  // ---- request handling ------------------------------------------------------------------

  private dispatch(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const path = url.pathname.replace(/^\/1\.0/, '');
      const record: RecordedRequest = {
        method: req.method ?? 'GET',
        path,
        query: Object.fromEntries(url.searchParams),
        body: rawBody ? safeJson(rawBody) : null,
        status: 0,
      };
      this.requests.push(record);
      const send = (result: Result) => {
        record.status = result.status;
        if (res.destroyed) return;
        res.writeHead(result.status, { 'Content-Type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(result.body));
      };

      if (!url.pathname.startsWith('/1.0/')) return send(fail(404, 'Unknown API version'));
      const route = this.routes.find((r) => r.method === record.method && r.regex.test(path));
      if (!route) return send(fail(404, `Got an invalid (or empty) URL`));

      if (route.pattern !== '/auth/time') {
        const rejected = this.checkAuth(req, rawBody);
        if (rejected) return send(rejected);
      }

      const fault = this.takeFault(`${route.method} ${route.pattern}`);
      if (fault && 'respond' in fault) {
        return send(fail(fault.respond, fault.message ?? `Injected failure ${fault.respond}`, fault.errorCode, fault.errorClass));
      }
      const run = () => {
        const match = route.regex.exec(path)!;
        const params = Object.fromEntries(route.keys.map((k, i) => [k, decodeURIComponent(match[i + 1]!)]));
        let body: any = null;
        if (rawBody) {
          body = safeJson(rawBody);
          if (body === undefined) return send(fail(400, 'Invalid JSON body'));
        }
        if (params.sn !== undefined && params.sn !== this.serviceName) return send(fail(404, 'This service does not exist'));
        const result = route.handler({ params, query: url.searchParams, body, fault });
        if (fault && 'loseResponse' in fault) {
          record.status = 0;
          req.socket.destroy();
          return;
        }
        send(result);
      };
      if (fault && 'hangMs' in fault) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          run();
        }, fault.hangMs);
        this.timers.add(timer);
        return;
      }
      run();
    });
  }

  private checkAuth(req: http.IncomingMessage, rawBody: string): Result | null {
    return checkOvhAuth(req, rawBody, { applicationKey: this.applicationKey, applicationSecret: this.applicationSecret, consumerKey: this.consumerKey }, this.clock(), this.timestampWindowSeconds);
  }

  private takeFault(route: string): FakeOvhFault | null {
    const queue = this.faults.get(route);
    const fault = queue?.[0];
    if (!queue || !fault) return null;
    const left = (fault.times ?? 1) - 1;
    if (left <= 0) queue.shift();
    else queue[0] = { ...fault, times: left };
    return fault;
  }

  // ---- endpoints -------------------------------------------------------------------------

  private route(method: string, pattern: string, handler: Handler): void {
    const keys: string[] = [];
    const source = pattern.replace(/:(\w+)/g, (_m, key: string) => {
      keys.push(key);
      return '([^/]+)';
    });
    this.routes.push({ method, pattern, regex: new RegExp(`^${source}$`), keys, handler });
  }

  private defineRoutes(): void {
    const p = '/cloud/project/:sn';
    this.route('GET', '/auth/time', () => ok(this.clock()));

    this.route('GET', p, () => ok({ project_id: this.serviceName, projectName: 'fake project', description: 'fake project', status: 'ok', unleash: false, planCode: 'project.2018' }));

    this.route('GET', `${p}/flavor`, ({ query }) => ok(this.flavors.filter((f) => !query.get('region') || f.region === query.get('region'))));
    this.route('GET', `${p}/flavor/:id`, ({ params }) => {
      const flavor = this.flavors.find((f) => f.id === params.id);
      return flavor ? ok(flavor) : fail(404, `Flavor ${params.id} not found`);
    });

    this.route('GET', `${p}/image`, ({ query }) => ok(this.images.filter((i) =>
      (!query.get('region') || i.region === query.get('region')) && (!query.get('osType') || i.type === query.get('osType')))));

    this.route('GET', `${p}/sshkey`, ({ query }) => ok(this.keys().filter((k) => !query.get('region') || k.regions.includes(query.get('region')!))));
    this.route('POST', `${p}/sshkey`, ({ body }) => {
      if (typeof body?.name !== 'string' || !body.name) return fail(400, 'Missing parameter: name');
      if (typeof body.publicKey !== 'string' || !/^(ssh-(ed25519|rsa)|ecdsa-sha2-\S+) [A-Za-z0-9+/=]+( .*)?$/.test(body.publicKey)) {
        return fail(400, 'Invalid public key');
      }
      if (this.keys().some((k) => k.name === body.name)) return fail(409, `SSH key named ${body.name} already exists`);
      const key: SshKey = {
        id: randomUUID().replace(/-/g, '').slice(0, 24),
        name: body.name,
        publicKey: body.publicKey,
        fingerprint: createHash('md5').update(body.publicKey).digest('hex').replace(/(..)(?!$)/g, '$1:'),
        regions: body.region ? [body.region] : [this.region, 'SBG5'],
      };
      this.sshKeys.set(key.id, key);
      return ok(key);
    });
    this.route('GET', `${p}/sshkey/:id`, ({ params }) => {
      const key = this.sshKeys.get(params.id!);
      return key ? ok(key) : fail(404, `SSH key ${params.id} not found`);
    });
    this.route('DELETE', `${p}/sshkey/:id`, ({ params }) => (this.sshKeys.delete(params.id!) ? ok(null) : fail(404, `SSH key ${params.id} not found`)));

    this.route('GET', `${p}/instance`, ({ query }) => ok(
      this.instances().filter((i) => i.status !== 'DELETED' && (!query.get('region') || i.region === query.get('region'))),
    ));
    this.route('POST', `${p}/instance`, ({ body, fault }) => {
      if (typeof body?.name !== 'string' || !body.name) return fail(400, 'Missing parameter: name');
      if (typeof body.region !== 'string') return fail(400, 'Missing parameter: region');
      const flavor = this.flavors.find((f) => f.id === body.flavorId);
      if (!flavor || flavor.region !== body.region || !flavor.available) return fail(400, `Flavor ${body.flavorId} is not available in ${body.region}`);
      const image = this.images.find((i) => i.id === body.imageId);
      if (!image || image.region !== body.region) return fail(400, `Image ${body.imageId} is not available in ${body.region}`);
      if (image.minDisk > flavor.disk) return fail(400, `Image ${image.name} needs a ${image.minDisk} GB disk`);
      if (body.sshKeyId != null && !this.sshKeys.has(body.sshKeyId)) return fail(400, `SSH key ${body.sshKeyId} does not exist`);
      if (body.monthlyBilling !== undefined && typeof body.monthlyBilling !== 'boolean') return fail(400, 'Invalid parameter: monthlyBilling');
      if (body.userData !== undefined && typeof body.userData !== 'string') return fail(400, 'Invalid parameter: userData');
      const instance = this.newInstance(body.name, flavor.id, image.id, body.sshKeyId ?? null);
      instance.userData = body.userData;
      instance.pending = { status: 'ACTIVE', at: Date.now() + this.buildDelayMs };
      instance.failBuild = Boolean(fault && 'buildError' in fault);
      this.instanceStore.set(instance.id, instance);
      return ok(this.view(instance));
    });
    this.route('GET', `${p}/instance/:id`, ({ params }) => {
      const instance = this.live(params.id!);
      return instance ? ok(this.view(instance)) : fail(404, `Instance ${params.id} not found`);
    });
    this.route('DELETE', `${p}/instance/:id`, ({ params }) => {
      const instance = this.live(params.id!);
      if (!instance) return fail(404, `Instance ${params.id} not found`);
      instance.status = 'DELETING';
      instance.pending = { status: 'DELETED', at: Date.now() + this.actionDelayMs };
      return ok(null);
    });
    this.route('POST', `${p}/instance/:id/stop`, ({ params }) => this.transition(params.id!, 'ACTIVE', 'SHUTOFF', 'stop'));
    this.route('POST', `${p}/instance/:id/start`, ({ params }) => this.transition(params.id!, 'SHUTOFF', 'ACTIVE', 'start'));
  }

  private transition(id: string, from: string, to: string, verb: string): Result {
    const instance = this.live(id);
    if (!instance) return fail(404, `Instance ${id} not found`);
    if (instance.status !== from || instance.pending) {
      return fail(409, `Cannot '${verb}' instance ${id} while it is in status ${instance.status}`);
    }
    instance.pending = { status: to, at: Date.now() + this.actionDelayMs };
    return ok(null);
  }

  /** The stored instance with its status advanced; null once deleted. */
  private live(id: string) {
    const instance = this.instanceStore.get(id);
    if (!instance) return null;
    this.advance(instance);
    if (instance.status === 'DELETED') {
      this.instanceStore.delete(id);
      return null;
    }
    return instance;
  }

  private advance(instance: StoredInstance): void {
    if (!instance.pending || Date.now() < instance.pending.at) return;
    const next = instance.pending.status === 'ACTIVE' && instance.failBuild ? 'ERROR' : instance.pending.status;
    instance.failBuild = false;
    instance.pending = undefined;
    instance.status = next;
    // The public address is attached at the end of the build and kept across stop/start.
    if (next === 'ACTIVE' && instance.ipAddresses.length === 0) instance.ipAddresses = this.addresses();
  }

  private view(instance: StoredInstance): FakeInstance {
    this.advance(instance);
    const { pending: _pending, failBuild: _failBuild, userData: _userData, ...visible } = instance;
    return structuredClone(visible);
  }

  private newInstance(name: string, flavorId: string, imageId: string, sshKeyId: string | null): StoredInstance {
    return {
      id: randomUUID(),
      name,
      status: 'BUILD',
      flavorId,
      imageId,
      region: this.region,
      sshKeyId,
      ipAddresses: [],
      // OVH gives seconds precision.
      created: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      monthlyBilling: null,
    };
  }

  private addresses(): FakeInstance['ipAddresses'] {
    const n = this.nextIp++;
    return [
      { ip: `2001:41d0:304:200::${n.toString(16)}`, type: 'public', version: 6, networkId: 'ext-net-v6', gatewayIp: '2001:41d0:304:200::1' },
      { ip: `10.0.0.${n}`, type: 'private', version: 4, networkId: 'private-net', gatewayIp: null },
      { ip: `51.77.10.${n}`, type: 'public', version: 4, networkId: 'ext-net', gatewayIp: '51.77.10.1' },
    ];
  }

  /** The stored instance's cloud-init data, which OVH does not return but a test may check. */
  userDataOf(id: string): string | undefined {
    return this.instanceStore.get(id)?.userData;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
