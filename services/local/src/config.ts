import { z } from 'zod';
import { envInt, loadConfig } from '@herald/shared';

/**
 * The one-command stack's own settings, read once at start like every service's. The services
 * it starts get the same environment and read their own variables from it.
 */
export const localEnv = {
  /** Kept state (VAPID keys, the Redis it starts). Default `.herald/` in the repository. */
  HERALD_STATE_DIR: z.string().trim().optional(),
  /** Where Redis is. Unset: one on 127.0.0.1:6379, else a redis-server of the stack's own. */
  REDIS_URL: z.string().trim().optional(),
  /** `own`: start a redis-server of the stack's own even when one answers on 6379. */
  HERALD_START_REDIS: z.enum(['own'], { error: 'expected own (or unset)' }).optional(),
  /** The publisher's port and address. Default 3000 on 127.0.0.1. */
  PORT: envInt(3000, 0, 65535),
  HOST: z.string().trim().default('127.0.0.1'),
  /** A channel whose provider credentials are set uses the real provider, else a stand-in. */
  SMTP_URL: z.string().trim().optional(),
  TWILIO_ACCOUNT_SID: z.string().trim().optional(),
  VAPID_PRIVATE_KEY: z.string().trim().optional(),
  /** Replicas of each worker. Default 1. */
  HERALD_REPLICAS_EMAIL: envInt(1, 1, 64),
  HERALD_REPLICAS_SMS: envInt(1, 1, 64),
  HERALD_REPLICAS_PUSH: envInt(1, 1, 64),
  /** The first key goes into the banner's curl. */
  HERALD_ADMIN_KEYS: z.string().trim().optional(),
  HERALD_API_KEYS: z.string().trim().optional(),
  /** How long the services get to drain at Ctrl+C (the stack waits 2 s more). Default 10000. */
  HERALD_SHUTDOWN_MS: envInt(10_000, 0, 600_000),
};

export type LocalConfig = ReturnType<typeof loadLocalConfig>;

export function loadLocalConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(localEnv, env);
}
