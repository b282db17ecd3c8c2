import { OvhApiError, isTimestampRejection } from './ovh-errors.ts';
import { signOvhRequest } from './ovh-signature.ts';

/** The three secrets of an OVH API application; `applicationKey` is public, the other two are not. */
export interface OvhCredentials {
  applicationKey: string;
  applicationSecret: string;
  consumerKey: string;
}

export interface OvhClientOptions {
  /** API root without trailing slash: `https://eu.api.ovh.com/1.0` in production. */
  endpoint: string;
  credentials: OvhCredentials;
  /** Deadline for one HTTP exchange (a retry gets a fresh one). */
  timeoutMs?: number;
  /** Extra attempts for idempotent calls (GET, DELETE) after a 5xx, a timeout or a dropped connection. */
  retries?: number;
  /** First backoff delay; doubles per attempt, with jitter. */
  retryBaseMs?: number;
  /** Local clock in milliseconds (tests move it). */
  now?: () => number;
}

export type OvhMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface OvhRequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** The caller's cancellation; combined with the per-request timeout. */
  signal?: AbortSignal;
  /** Where retry notices go (a VM operation's job log). */
  log?: (line: string) => void;
}

const IDEMPOTENT: ReadonlySet<OvhMethod> = new Set(['GET', 'DELETE']);

/**
 * A small signed client for OVH API v1. Every call except `/auth/time` is signed with a
 * timestamp on OVH's clock: the delta to the local clock is read once from `/auth/time` and
 * read again when OVH rejects a timestamp (the local clock jumped, or the host was suspended).
 * Nothing it throws or logs contains the application secret or the consumer key.
 */
export class OvhClient {
  readonly endpoint: string;
  private readonly credentials: OvhCredentials;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly now: () => number;
  /** OVH seconds minus local seconds; a shared promise so concurrent first calls ask once. */
  private delta: Promise<number> | null = null;

  constructor(options: OvhClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.credentials = options.credentials;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 3;
    this.retryBaseMs = options.retryBaseMs ?? 500;
    this.now = options.now ?? Date.now;
  }

  /** All three credentials are set (says nothing about whether OVH accepts them). */
  get configured(): boolean {
    const c = this.credentials;
    return Boolean(c.applicationKey && c.applicationSecret && c.consumerKey);
  }

  get<T>(path: string, options: OvhRequestOptions = {}): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  post<T>(path: string, body?: unknown, options: OvhRequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...options, body });
  }

  delete<T = null>(path: string, options: OvhRequestOptions = {}): Promise<T> {
    return this.request<T>('DELETE', path, options);
  }

  /** OVH's clock in seconds, read now; the delta is refreshed with it. */
  async serverTime(signal?: AbortSignal): Promise<number> {
    const delta = this.shareDelta(this.readDelta(signal));
    return this.localSeconds() + (await delta);
  }

  async request<T>(method: OvhMethod, path: string, options: OvhRequestOptions = {}): Promise<T> {
    const attempts = IDEMPOTENT.has(method) ? this.retries + 1 : 1;
    let timestampRefreshed = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.exchange<T>(method, path, options, options.signal, true);
      } catch (err) {
        options.signal?.throwIfAborted();
        // A rejected timestamp means OVH did nothing, so even a POST may be sent again.
        if (!timestampRefreshed && isTimestampRejection(err)) {
          timestampRefreshed = true;
          this.delta = null;
          options.log?.(`OVH rejected the request timestamp; re-reading its clock and retrying ${method} ${path}`);
          attempt--;
          continue;
        }
        if (!(err instanceof OvhApiError) || !err.transient || attempt >= attempts) throw err;
        const wait = this.backoff(attempt);
        options.log?.(`${err.message}; retrying in ${wait} ms (attempt ${attempt + 1} of ${attempts})`);
        await sleep(wait, options.signal);
      }
    }
  }

  private backoff(attempt: number): number {
    const base = this.retryBaseMs * 2 ** (attempt - 1);
    return Math.round(base / 2 + Math.random() * (base / 2));
  }

  private localSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private async timestamp(): Promise<number> {
    // Read without the caller's signal: the delta is shared, and one caller giving up must not
    // fail the others waiting on it. The per-request timeout still bounds it.
    const delta = this.delta ?? this.shareDelta(this.readDelta(undefined));
    return this.localSeconds() + (await delta);
  }

  private shareDelta(pending: Promise<number>): Promise<number> {
    this.delta = pending;
    // A failed read must not stick: the next call asks again.
    pending.catch(() => {
      if (this.delta === pending) this.delta = null;
    });
    return pending;
  }

  private async readDelta(signal: AbortSignal | undefined): Promise<number> {
    const before = this.localSeconds();
    const time = await this.exchange<unknown>('GET', '/auth/time', {}, signal, false);
    if (typeof time !== 'number' || !Number.isFinite(time)) {
      throw new OvhApiError({ kind: 'api', request: 'GET /auth/time', httpStatus: 200, errorCode: null, errorClass: null, reason: 'the answer is not a number' });
    }
    return time - before;
  }

  /** One HTTP exchange: no retries, the error (if any) already an `OvhApiError`. */
  private async exchange<T>(method: OvhMethod, path: string, options: OvhRequestOptions, signal: AbortSignal | undefined, signed: boolean): Promise<T> {
    const url = this.endpoint + path + queryString(options.query);
    const body = options.body === undefined ? '' : JSON.stringify(options.body);
    const request = `${method} ${path}`;
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'X-Ovh-Application': this.credentials.applicationKey,
    };
    if (signed) {
      const timestamp = await this.timestamp();
      headers['X-Ovh-Consumer'] = this.credentials.consumerKey;
      headers['X-Ovh-Timestamp'] = String(timestamp);
      headers['X-Ovh-Signature'] = signOvhRequest({
        applicationSecret: this.credentials.applicationSecret,
        consumerKey: this.credentials.consumerKey,
        method,
        url,
        body,
        timestamp,
      });
    }

    const deadline = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let text: string;
    let status: number;
    try {
      const response = await fetch(url, { method, headers, body: body === '' ? undefined : body, signal: combined });
      status = response.status;
      text = await response.text();
    } catch (err) {
      signal?.throwIfAborted();
      if (deadline.aborted) {
        throw new OvhApiError({ kind: 'timeout', request, httpStatus: null, errorCode: null, errorClass: null, reason: `no answer within ${this.timeoutMs} ms` });
      }
      throw new OvhApiError({ kind: 'network', request, httpStatus: null, errorCode: null, errorClass: null, reason: networkReason(err) });
    }

    const parsed = parseJson(text);
    if (status >= 200 && status < 300) return parsed as T;
    const error = (parsed && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
    throw new OvhApiError({
      kind: 'api',
      request,
      httpStatus: status,
      errorCode: typeof error.errorCode === 'string' ? error.errorCode : null,
      errorClass: typeof error.class === 'string' ? error.class : null,
      reason: typeof error.message === 'string' ? error.message : text.slice(0, 200) || `HTTP ${status}`,
    });
  }
}

function queryString(query: OvhRequestOptions['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.append(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** fetch says only "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND …) is in its cause. */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
