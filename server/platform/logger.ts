import { pino, type Logger } from 'pino';

export type { Logger };

/** Root logger; modules take a child with `logger.child({ module: 'jobs' })`. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    // Secrets must never reach the log even if an object carrying them is logged by mistake.
    redact: {
      paths: ['password', '*.password', 'token', '*.token', 'headers.cookie', 'headers.authorization', 'data', '*.data'],
      censor: '[redacted]',
    },
  });
}
