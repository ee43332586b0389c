import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

/**
 * Reconnect delay after the n-th failed attempt: 100 ms doubling to a 5 s cap, with full
 * jitter so replicas do not reconnect in step. Roughly: 0-100, 0-200, 0-400, ... 0-5000 ms.
 */
export function reconnectDelay(attempt: number): number {
  const cap = Math.min(5000, 100 * 2 ** Math.min(Math.max(attempt, 1) - 1, 16));
  return Math.max(50, Math.floor(Math.random() * cap));
}

export interface ConnectOptions {
  /** Name shown by CLIENT LIST. */
  name: string;
  logger: Logger;
  /**
   * Fail commands at once while disconnected instead of queueing them (the publisher answers
   * 503 rather than hang). Blocking readers leave it on.
   */
  failFast?: boolean;
  /** Per-command time-out in ms; none for connections that block. */
  commandTimeoutMs?: number;
}

/** A Redis connection that reconnects by itself with jittered backoff and logs its state changes. */
export function connectRedis(url: string, options: ConnectOptions): Redis {
  const redisOptions: RedisOptions = {
    connectionName: options.name,
    lazyConnect: false,
    retryStrategy: reconnectDelay,
    enableOfflineQueue: !options.failFast,
    maxRetriesPerRequest: options.failFast ? 0 : null,
    connectTimeout: 2000,
    ...(options.commandTimeoutMs ? { commandTimeout: options.commandTimeoutMs } : {}),
  };
  const redis = new Redis(url, redisOptions);
  let down = false;
  redis.on('error', (err: Error) => {
    // ioredis emits an error per failed reconnect; log the first of a run, then stay quiet.
    if (!down) options.logger.warn({ err: err.message, connection: options.name }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) options.logger.info({ connection: options.name }, 'redis connection restored');
    down = false;
  });
  return redis;
}
