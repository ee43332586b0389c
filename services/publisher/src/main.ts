import { connectRedis, createLogger, exitOnSignals, loadConfig } from '@herald/shared';
import { buildApp } from './app.js';
import { isLoopbackHost } from './loopback-host.js';
import { publisherEnv } from './config.js';

/** The publisher's entry point: config, Redis, HTTP, and signal handling. */
const config = loadConfig(publisherEnv);
const logger = createLogger('publisher', config.LOG_LEVEL);

const noKeys = config.HERALD_API_KEYS.length === 0 && config.HERALD_ADMIN_KEYS.length === 0;
if (noKeys && !isLoopbackHost(config.HOST)) {
  process.stderr.write(
    `HOST: ${config.HOST} is reachable from other machines and no API key is set; ` +
      'set HERALD_API_KEYS (and HERALD_ADMIN_KEYS), or serve on HOST=127.0.0.1\n',
  );
  process.exit(1);
}

const redis = connectRedis(config.REDIS_URL, {
  name: 'herald-publisher',
  logger,
  failFast: true,
  commandTimeoutMs: config.HERALD_REDIS_TIMEOUT_MS,
});
const app = buildApp({ config, redis, logger });

try {
  await app.listen({ port: config.PORT, host: config.HOST });
} catch (err) {
  logger.fatal({ err }, 'could not listen');
  redis.disconnect();
  process.exit(1);
}
if (noKeys) {
  logger.warn('no API key is set (HERALD_API_KEYS, HERALD_ADMIN_KEYS): every route is open to this machine');
}
const address = app.server.address();
logger.info({ address, stream: config.HERALD_STREAM }, 'publisher listening');

exitOnSignals(async (signal) => {
  logger.info({ signal }, 'stopping: finishing requests in flight');
  setTimeout(() => {
    logger.error(
      { shutdownMs: config.HERALD_SHUTDOWN_MS },
      'requests still in flight after HERALD_SHUTDOWN_MS; exiting',
    );
    process.exit(1);
  }, config.HERALD_SHUTDOWN_MS).unref();
  try {
    await app.close(); // stops accepting, waits for requests in flight
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
  logger.info('stopped');
}, logger);
