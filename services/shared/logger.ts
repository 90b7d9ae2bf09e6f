/**
 * One pino root logger per process (`{service}` bound); modules take `log.child({module})`.
 * The redaction list is the single place that keeps secrets out of logs.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Paths censored in every log line. Add here, never at call sites. */
export const REDACT_PATHS = [
  'token',
  'sessionToken',
  'password',
  'passphrase',
  'identity',
  'secret',
  'signature',
  '*.token',
  '*.sessionToken',
  '*.password',
  '*.passphrase',
  '*.identity',
  '*.secret',
  '*.signature',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'config.redis.password',
];

export function createLogger(opts: { service: string; level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: opts.service, pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
