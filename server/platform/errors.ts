/**
 * Errors with an HTTP status and a stable machine-readable code (see API.md). Routes and
 * socket handlers throw these; one middleware / one ack helper renders them.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
  toJSON() {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}

export const validationFailed = (message: string, details?: Record<string, unknown>) =>
  new AppError(400, 'validation_failed', message, details);
export const unauthenticated = (message = 'Sign in first') => new AppError(401, 'unauthenticated', message);
export const forbidden = (message = 'You may not do that') => new AppError(403, 'forbidden', message);
export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new AppError(409, 'conflict', message, details);
export const payloadTooLarge = (message: string) => new AppError(413, 'payload_too_large', message);
/** `retryAfterSeconds` also becomes the Retry-After header (see errorHandler). */
export const rateLimited = (message: string, retryAfterSeconds: number) =>
  new AppError(429, 'rate_limited', message, { retryAfterSeconds });

/** Renders any thrown value as the API error shape; unknown errors become `internal` without leaking details. */
export function toErrorBody(err: unknown): { status: number; body: ReturnType<AppError['toJSON']> } {
  if (err instanceof AppError) return { status: err.status, body: err.toJSON() };
  return { status: 500, body: { error: { code: 'internal', message: 'Internal server error' } } };
}
