import { connectRedis, createLogger, exitOnSignals, loadConfig } from '@herald/shared';
import { buildApp } from '../services/publisher/src/app.js';
import { publisherEnv } from '../services/publisher/src/config.js';

/**
 * Scenario 3's server: the real publisher app, plus one bare route on the same Fastify
 * instance (JSON body parsed, 202 answered, nothing else), so both are measured in the same
 * process and the ratio shows what Herald's route costs over the framework's own floor.
 */
const config = loadConfig(publisherEnv);
const logger = createLogger('publisher', config.LOG_LEVEL);
const redis = connectRedis(config.REDIS_URL, {
  name: 'herald-bench-publisher',
  logger,
  failFast: true,
  commandTimeoutMs: config.HERALD_REDIS_TIMEOUT_MS,
});
const app = buildApp({ config, redis, logger });
app.post('/bench/bare', async (_request, reply) => reply.code(202).send({ accepted: true }));
await app.listen({ port: config.PORT, host: '127.0.0.1' });
logger.info({ address: app.server.address() }, 'publisher listening');
exitOnSignals(async () => {
  await app.close();
  await redis.quit().catch(() => redis.disconnect());
}, logger);
