import { AppError } from '../../platform/errors.ts';

/** How a call to the OVH API failed: an answer with an error status, no answer in time, or no connection. */
export type OvhFailureKind = 'api' | 'timeout' | 'network';

export interface OvhFailure {
  kind: OvhFailureKind;
  /** e.g. `GET /cloud/project/abc/instance`: the path without host or query, never a credential. */
  request: string;
  /** OVH's HTTP status; null when no answer came. */
  httpStatus: number | null;
  /** OVH's `errorCode` (e.g. `INVALID_SIGNATURE`) when the body carried one. */
  errorCode: string | null;
  /** OVH's error `class` (e.g. `Client::BadRequest::InvalidSignature`). */
  errorClass: string | null;
  /** OVH's message, or what went wrong on the way. */
  reason: string;
}

/**
 * A failed OVH API call. To the console it is an upstream failure (502/504), whatever OVH
 * answered: an OVH 403 means the console's credentials are wrong, not that the user may not act.
 * OVH's own status, code and class stay readable for retry decisions and for people.
 */
export class OvhApiError extends AppError implements OvhFailure {
  readonly kind: OvhFailureKind;
  readonly request: string;
  readonly httpStatus: number | null;
  readonly errorCode: string | null;
  readonly errorClass: string | null;
  readonly reason: string;

  constructor(failure: OvhFailure) {
    super(
      failure.kind === 'timeout' ? 504 : 502,
      failure.kind === 'api' ? 'ovh_api_error' : failure.kind === 'timeout' ? 'ovh_timeout' : 'ovh_unreachable',
      describe(failure),
      { ...failure },
    );
    this.name = 'OvhApiError';
    this.kind = failure.kind;
    this.request = failure.request;
    this.httpStatus = failure.httpStatus;
    this.errorCode = failure.errorCode;
    this.errorClass = failure.errorClass;
    this.reason = failure.reason;
  }

  get notFound(): boolean {
    return this.httpStatus === 404;
  }

  /** Worth another try: OVH failed on its side or the answer never came. */
  get transient(): boolean {
    return this.kind !== 'api' || (this.httpStatus !== null && this.httpStatus >= 500);
  }
}

function describe(f: OvhFailure): string {
  if (f.kind === 'timeout') return `OVH API ${f.request}: ${f.reason}`;
  if (f.kind === 'network') return `OVH API ${f.request}: not reachable (${f.reason})`;
  const code = [f.errorCode, f.errorClass ? `(${f.errorClass})` : null].filter(Boolean).join(' ');
  return `OVH API ${f.request}: ${f.httpStatus}${code ? ` ${code}` : ''}: ${f.reason}`;
}

/** True for OVH's "your timestamp is outside my window" answer, which a fresh `/auth/time` delta fixes. */
export function isTimestampRejection(err: unknown): boolean {
  if (!(err instanceof OvhApiError) || err.httpStatus !== 400) return false;
  if (err.errorCode === 'QUERY_TIME_OUT' || err.errorCode === 'INVALID_TIMESTAMP') return true;
  return /timestamp|out of time/i.test(err.reason);
}
