import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { Redis } from 'ioredis';
import { connectRedis, createLogger, makeKeys, parseEnv, type Keys } from '@herald/shared';
import { buildApp } from '../../services/publisher/src/app.js';
import { publisherEnv, type PublisherConfig } from '../../services/publisher/src/config.js';
import { startRedis, type TestRedis } from './redis-server.js';

export interface TestPublisher {
  app: FastifyInstance;
  config: PublisherConfig;
  keys: Keys;
  /** The publisher's own connection (fails fast). */
  redis: Redis;
  /** A plain connection for the test's own checks. */
  admin: Redis;
  /** Every route the app registered, as Fastify's onRoute hook saw it (HEAD routes included). */
  routes: readonly RouteOptions[];
  /** `http://127.0.0.1:<port>` once `listen()` was called. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A publisher app in this process against `redisUrl`, with a stream and key prefix of its own
 * so tests sharing one redis-server never see each other's data.
 */
export async function startPublisher(redisUrl: string, env: Record<string, string> = {}): Promise<TestPublisher> {
  const unique = randomUUID().slice(0, 8);
  const config = parseEnv(publisherEnv, {
    REDIS_URL: redisUrl,
    HERALD_STREAM: `test:${unique}:notifications`,
    HERALD_KEY_PREFIX: `test:${unique}:`,
    LOG_LEVEL: 'silent',
    PORT: '0',
    ...env,
  });
  const logger = createLogger('publisher', config.LOG_LEVEL);
  const redis = connectRedis(config.REDIS_URL, {
    name: 'test-publisher',
    logger,
    failFast: true,
    commandTimeoutMs: config.HERALD_REDIS_TIMEOUT_MS,
  });
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });
  const admin = connectRedis(config.REDIS_URL, { name: 'test-admin', logger });
  const routes: RouteOptions[] = [];
  const app = buildApp({ config, redis, logger, onRoute: (route) => void routes.push(route) });
  await app.ready();
  return {
    app,
    config,
    keys: makeKeys(config),
    redis,
    admin,
    routes,
    async listen() {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as { port: number };
      return `http://127.0.0.1:${port}`;
    },
    async close() {
      await app.close();
      redis.disconnect();
      admin.disconnect();
    },
  };
}

/**
 * The usual frame of a publisher test file: one redis-server for the file, and a publisher
 * (own stream and prefix) for each test, or with `{ perFile: true }` one for the whole file.
 * Read `ctx.pub` inside tests; `ctx.restart(env)` swaps in a publisher with other settings.
 */
export function usePublisher(env: Record<string, string> = {}, { perFile = false } = {}) {
  let redis: TestRedis | undefined;
  let current: TestPublisher | undefined;
  const ctx = {
    get redis(): TestRedis {
      return redis!;
    },
    get pub(): TestPublisher {
      return current!;
    },
    /** With `keepData`, the new publisher uses the same stream and key prefix as the one before. */
    async restart(overrides: Record<string, string>, { keepData = false } = {}): Promise<TestPublisher> {
      const same: Record<string, string> =
        keepData && current
          ? { HERALD_STREAM: current.config.HERALD_STREAM, HERALD_KEY_PREFIX: current.config.HERALD_KEY_PREFIX }
          : {};
      await current?.close();
      current = await startPublisher(redis!.url, { ...env, ...same, ...overrides });
      return current;
    },
  };
  const open = async () => {
    current = await startPublisher(redis!.url, env);
  };
  const close = async () => {
    await current?.close();
    current = undefined;
  };
  beforeAll(async () => {
    redis = await startRedis();
    if (perFile) await open();
  });
  afterAll(async () => {
    if (perFile) await close();
    await redis?.destroy();
  });
  if (!perFile) {
    beforeEach(open);
    afterEach(close);
  }
  return ctx;
}
