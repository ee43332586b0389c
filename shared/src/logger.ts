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

/**
 * Errors as pino's standard serializer gives them, less the arguments of Redis commands: ioredis
 * puts the failed command on its errors (`command: {name, args}`, also on each of a transaction's
 * `previousErrors`), and the arguments are contact data and whole notifications. The command's
 * name stays, which is what a reader of the log needs.
 */
function serializeError(err: unknown): unknown {
  return withoutCommandArgs(pino.stdSerializers.err(err as Error), 0);
}

function withoutCommandArgs(value: unknown, depth: number): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => withoutCommandArgs(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const isCommand = key === 'command' && item !== null && typeof item === 'object' && 'args' in item;
    copy[key] = isCommand
      ? { name: (item as { name?: unknown }).name, args: '[redacted]' }
      : withoutCommandArgs(item, depth + 1);
  }
  return copy;
}

/** The process logger: JSON lines on stdout, with the service's name on each. */
export function createLogger(service: string, level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    name: service,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}
