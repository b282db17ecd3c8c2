import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Root logger; modules take a child with `logger.child({ module: 'jobs' })`. JSON lines for
 * log shippers; short readable lines when a person watches the terminal (`auto` = a TTY).
 */
export function createLogger(level: string, format: LogFormat = 'json'): Logger {
  const readable = format === 'pretty' || (format === 'auto' && process.stdout.isTTY);
  const stream = readable ? pretty({ colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname', singleLine: true }) : undefined;
  return pino({
    level,
    // Secrets must never reach the log even if an object carrying them is logged by mistake.
    redact: {
      paths: [
        'password', '*.password', 'passphrase', '*.passphrase', 'token', '*.token',
        'headers.cookie', 'headers.authorization', 'data', '*.data',
      ],
      censor: '[redacted]',
    },
  }, stream ?? pino.destination(1));
}
