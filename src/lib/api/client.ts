import type { ApiErrorBody } from '$lib/shared/auth';

/** An API error with the server's stable code, e.g. `unauthenticated`, `validation_failed`. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

type Fetch = typeof fetch;

async function request<T>(method: string, path: string, body?: unknown, f: Fetch = fetch, headers: Record<string, string> = {}): Promise<T> {
  let res: Response;
  try {
    res = await f(`/api${path}`, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Is it running?');
  }
  if (res.status === 204) return undefined as T;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const e = (data as ApiErrorBody | null)?.error;
    throw new ApiError(res.status, e?.code ?? 'internal', e?.message ?? `Request failed (${res.status})`, e?.details);
  }
  return data as T;
}

/** Typed fetch client for /api. Pass SvelteKit's `fetch` from a load function as the last argument. */
export const api = {
  get: <T>(path: string, f?: Fetch) => request<T>('GET', path, undefined, f),
  /** `headers` for the few calls that need one, e.g. `Idempotency-Key` on a create. */
  post: <T>(path: string, body: unknown = {}, f?: Fetch, headers?: Record<string, string>) => request<T>('POST', path, body, f, headers),
  patch: <T>(path: string, body: unknown, f?: Fetch) => request<T>('PATCH', path, body, f),
  put: <T>(path: string, body: unknown, f?: Fetch) => request<T>('PUT', path, body, f),
  delete: <T>(path: string, f?: Fetch) => request<T>('DELETE', path, undefined, f),
};

/** A message fit for a toast, from anything a call threw. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
