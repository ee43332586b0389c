import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { dryRun, type ChannelDriver } from '../channel-driver.js';
import { ConfigError, loadConfig } from '../config.js';
import { Consumer } from './consumer.js';
import type { Channel } from '@herald/client';
import { makeKeys, type Keys } from '../layout/keys.js';
import { createLogger, type Logger } from '../logger.js';
import { connectRedis } from '../redis.js';
import { exitOnSignals } from '../shutdown.js';
import { registerGroupMetrics } from '../group-metrics.js';
import { Scripts } from '../scripts/scripts.js';
import { migrateDeadLetters } from './dead-letter-migration.js';
import { Trimmer } from './trimmer.js';
import type { WorkerConfig } from './worker-config.js';
import { WorkerMetrics, serveMetrics } from './worker-metrics.js';

/** What a driver may use besides its configuration. */
export interface WorkerServices {
  /** A shared, non-blocking connection (for a driver's own keys, such as the SMS rate limit). */
  redis: Redis;
  keys: Keys;
  /** The Lua scripts, on `redis`. */
  scripts: Scripts;
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
  createDriver(
    config: z.output<z.ZodObject<S>> & WorkerConfig,
    services: WorkerServices,
  ): ChannelDriver | Promise<ChannelDriver>;
}

/**
 * A channel service's entry point: config, Redis, the consumer runtime, metrics, signals.
 * SIGTERM or SIGINT: stop reading, let deliveries in flight finish within HERALD_SHUTDOWN_MS,
 * acknowledge what finished, leave the rest pending for another replica, exit 0.
 */
export async function runWorker<S extends z.ZodRawShape>(options: RunWorkerOptions<S>): Promise<void> {
  const config = loadConfig(options.env) as z.output<z.ZodObject<S>> & WorkerConfig;
  const logger = createLogger(options.channel, config.LOG_LEVEL).child({ consumer: config.HERALD_CONSUMER });
  const keys = makeKeys(config);
  const redis = connectRedis(config.REDIS_URL, { name: `herald-${options.channel}`, logger });
  const blockingRedis = connectRedis(config.REDIS_URL, { name: `herald-${options.channel}-reader`, logger });

  const scripts = new Scripts(redis, keys);
  const driver = await createDriver(options, config, { redis, keys, scripts, logger });
  const metrics = new WorkerMetrics(options.channel);
  registerGroupMetrics(metrics.registry, redis, keys, [options.channel]);
  const trimmer = new Trimmer({
    redis,
    keys,
    logger,
    retentionS: config.HERALD_RETENTION_S,
    deadLetterMaxLen: config.HERALD_DLQ_MAXLEN,
    registry: metrics.registry,
  });
  const consumer = new Consumer({
    channel: options.channel,
    driver,
    config,
    redis,
    blockingRedis,
    keys,
    scripts,
    logger,
    metrics,
  });
  const { server, port } = await serveMetrics(metrics, config.HERALD_METRICS_PORT, config.HERALD_METRICS_HOST, () => ({
    channel: options.channel,
    consumer: config.HERALD_CONSUMER,
    inFlight: consumer.inFlightCount,
  })).catch((err: unknown) => {
    logger.fatal(
      { err, port: config.HERALD_METRICS_PORT },
      'could not serve metrics (HERALD_METRICS_PORT; 0 picks a free port)',
    );
    process.exit(1);
  });

  let migration: NodeJS.Timeout | undefined;
  // Installed before the consumer starts, so a stop during a slow start is still graceful.
  exitOnSignals(async (signal) => {
    logger.info({ signal, inFlight: consumer.inFlightCount }, 'stopping: finishing deliveries in flight');
    trimmer.stop();
    clearInterval(migration);
    try {
      await consumer.close();
      await driver.close?.();
    } finally {
      server.close();
      // QUIT waits behind queued commands, forever while Redis is unreachable: cap it.
      await Promise.race([
        redis.quit().catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
      redis.disconnect();
      blockingRedis.disconnect();
    }
    logger.info('stopped');
  }, logger);

  // Dead letters of an earlier version move to where this one keeps them, before this worker
  // writes any (so they keep their ids), then with each trim (see the migration).
  const moveOldDeadLetters = () =>
    migrateDeadLetters(redis, keys, logger).catch((err: unknown) =>
      logger.warn({ err: (err as Error).message }, 'could not move the old dead letters; trying again later'),
    );
  await moveOldDeadLetters();
  await startConsumer(consumer, logger);
  trimmer.start(config.HERALD_TRIM_INTERVAL_S * 1000);
  migration = setInterval(() => void moveOldDeadLetters(), config.HERALD_TRIM_INTERVAL_S * 1000);
  migration.unref();
  logger.info(
    {
      group: consumer.group,
      stream: keys.stream,
      metricsPort: port,
      types: config.HERALD_TYPES,
      concurrency: config.HERALD_CONCURRENCY,
    },
    `${options.channel} worker started`,
  );
}

/**
 * The service's driver, or the process stops on a ConfigError naming each bad variable; a dry run
 * with HERALD_DRY_RUN.
 */
async function createDriver<S extends z.ZodRawShape>(
  options: RunWorkerOptions<S>,
  config: z.output<z.ZodObject<S>> & WorkerConfig,
  services: WorkerServices,
): Promise<ChannelDriver> {
  let driver: ChannelDriver;
  try {
    driver = await options.createDriver(config, services);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.lines) process.stderr.write(`${line}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (config.HERALD_DRY_RUN) {
    // Everything runs (filtering, claims, status, acks) but the provider call.
    driver = dryRun(driver);
    services.logger.warn('HERALD_DRY_RUN is on: nothing is sent');
  }
  return driver;
}

/** Redis may not be up yet: keep trying to create the group, with backoff, rather than crash-loop. */
async function startConsumer(consumer: Consumer, logger: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await consumer.start();
      return;
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not start the consumer; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** attempt)));
    }
  }
}
