import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino removes from every log line: credentials and contact data never reach the logs.
 * Herald logs ids, not people.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'email',
  'phone',
  'to',
  '*.email',
  '*.phone',
  '*.to',
  'keys',
  '*.keys',
  'password',
  '*.password',
];

/** The process logger: JSON lines on stdout, with the service's name on each. */
export function createLogger(service: string, level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { name: service, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}
