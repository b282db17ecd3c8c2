import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type prettyFactory from 'pino-pretty';

export type { Logger };
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Root logger; modules take a child with `logger.child({ module: 'jobs' })`. JSON lines for
 * log shippers; short readable lines when a person watches the terminal (`auto` = a TTY).
 */
export function createLogger(level: string, format: LogFormat = 'json'): Logger {
  const readable = format === 'pretty' || (format === 'auto' && process.stdout.isTTY);
  const stream = readable ? loadPretty()({ colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname', singleLine: true }) : undefined;
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

/**
 * The readable format's formatter, loaded only when used: it costs about 4 MB of memory,
 * and a server whose log goes to a file or a journal writes JSON and never needs it.
 */
function loadPretty(): typeof prettyFactory {
  return createRequire(import.meta.url)('pino-pretty') as typeof prettyFactory;
}
