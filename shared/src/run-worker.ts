import type { Redis } from 'ioredis';
import type { z } from 'zod';
import type { ChannelDriver } from './channel-driver.js';
import type { Channel } from './glossary.js';
import type { Keys } from './keys.js';
import type { Logger } from './logger.js';
import type { WorkerConfig } from './worker-config.js';

/** What a driver may use besides its configuration. */
export interface WorkerServices {
  /** A shared, non-blocking connection (for a driver's own keys, such as the SMS rate limit). */
  redis: Redis;
  keys: Keys;
  logger: Logger;
}

export interface RunWorkerOptions<S extends z.ZodRawShape> {
  channel: Channel;
  /** The service's environment shape: `{...workerEnv(channel), ...its own variables}`. */
  env: S;
  /**
   * Build the driver. With HERALD_DRY_RUN the runtime never calls `send`, so a driver should
   * not insist on provider credentials then. Throw a ConfigError for a missing or bad variable.
   */
  createDriver(config: z.output<z.ZodObject<S>> & WorkerConfig, services: WorkerServices): ChannelDriver | Promise<ChannelDriver>;
}

/** A channel service's entry point: config, Redis, the consumer runtime, metrics, signals. */
export async function runWorker<S extends z.ZodRawShape>(options: RunWorkerOptions<S>): Promise<void> {
  void options;
  throw new Error('not yet');
}
