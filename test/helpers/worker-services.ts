import type { Redis } from 'ioredis';
import { Scripts, createLogger, makeKeys, type WorkerServices } from '@herald/shared';

/** What runWorker gives a driver, for a driver built in a test: keys, scripts, a silent logger. */
export function workerServices(
  redis: Redis,
  config: { HERALD_STREAM: string; HERALD_KEY_PREFIX: string },
): WorkerServices {
  const keys = makeKeys(config);
  return { redis, keys, scripts: new Scripts(redis, keys), logger: createLogger('test', 'silent') };
}
