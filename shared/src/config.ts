import { z } from 'zod';

/**
 * Configuration: each service parses its environment once at start into a typed, frozen object.
 * A bad or missing value stops the process with exit code 1 and one line per problem, naming
 * the variable (`REDIS_URL: expected a redis:// or rediss:// URL`).
 */

/** An integer variable with a default, within [min, max]. */
export function envInt(defaultValue: number, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return z
    .string()
    .trim()
    .default(String(defaultValue))
    .refine((v) => /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max, {
      message: `expected a whole number from ${min} to ${max}`,
    })
    .transform(Number);
}

/** `true`/`false` (also `1`/`0`, `yes`/`no`), default as given. */
export function envBool(defaultValue: boolean) {
  return z
    .string()
    .trim()
    .toLowerCase()
    .default(String(defaultValue))
    .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), { message: 'expected true or false' })
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
}

/** A comma list; blanks dropped. */
export function envList() {
  return z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Variables every service reads. */
export const commonEnv = {
  /** Where Redis is. Default `redis://127.0.0.1:6379`. */
  REDIS_URL: z
    .string()
    .trim()
    .default('redis://127.0.0.1:6379')
    .refine(
      (v) => {
        try {
          const url = new URL(v);
          return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
        } catch {
          return false;
        }
      },
      { message: 'expected a redis:// or rediss:// URL' },
    ),
  /** The stream every notification is appended to. Default `user:notifications`. */
  HERALD_STREAM: z
    .string()
    .trim()
    .default('user:notifications')
    .refine((v) => v.length > 0 && v.length <= 200 && !/[{}\s]/.test(v), {
      message: 'expected a stream name of 1 to 200 characters without braces or spaces',
    }),
  /** Prefix of every other key Herald writes. Default `herald:`. */
  HERALD_KEY_PREFIX: z
    .string()
    .default('herald:')
    .refine((v) => v.length <= 100 && !/[{}\s]/.test(v), {
      message: 'expected at most 100 characters without braces or spaces',
    }),
  LOG_LEVEL: z
    .string()
    .trim()
    .toLowerCase()
    .default('info')
    .refine((v): v is (typeof LOG_LEVELS)[number] => (LOG_LEVELS as readonly string[]).includes(v), {
      message: `expected one of ${LOG_LEVELS.join(', ')}`,
    }),
  /** Accept push endpoints on private, loopback or link-local addresses (local stand-ins only). */
  HERALD_ALLOW_PRIVATE_PUSH: envBool(false),
  /**
   * Most push subscriptions a user holds, and so most connections one publish opens for them:
   * registering one more replaces the oldest, and the push worker sends to the newest this
   * many. Default 20; 1 to 1000.
   */
  HERALD_MAX_PUSH_SUBSCRIPTIONS: envInt(20, 1, 1000),
  /** The VAPID public key (base64url, 65 bytes decoded): served by the publisher, signed with by the push worker. */
  VAPID_PUBLIC_KEY: z
    .string()
    .trim()
    .optional()
    .refine((v) => v === undefined || v === '' || Buffer.from(v, 'base64url').length === 65, {
      message: 'expected a base64url P-256 public key (65 bytes decoded)',
    })
    .transform((v) => (v ? v : undefined)),
  /**
   * On SIGTERM/SIGINT, how long work in flight may take to finish before the process exits anyway,
   * in ms. Default 10000.
   */
  HERALD_SHUTDOWN_MS: envInt(10_000, 0, 600_000),
  /** Most dead letters kept; older ones beyond it are dropped. Default 100000. */
  HERALD_DLQ_MAXLEN: envInt(100_000, 1),
  /**
   * How long a notification's status and delivery claims are kept, in seconds: the replay window.
   * Default 604800 (7 days).
   */
  HERALD_RETENTION_S: envInt(604800, 1),
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
  }
}

/** Parse `env` with `shape`; throws ConfigError with one line per problem. */
export function parseEnv<S extends z.ZodRawShape>(
  shape: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.output<z.ZodObject<S>>> {
  // An empty variable means "not set", so `FOO=` falls back to the default.
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const result = z.object(shape).safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    );
  }
  return Object.freeze(result.data);
}

/** parseEnv for an entry point: on a problem, print each line to stderr and exit 1. */
export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.output<z.ZodObject<S>>> {
  try {
    return parseEnv(shape, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.lines) process.stderr.write(`${line}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Names of the Redis keys, derived from the configuration. See layout/keys.ts. */
export type CommonConfig = z.output<z.ZodObject<typeof commonEnv>>;
