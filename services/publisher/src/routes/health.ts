import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app.js';
import { redisCall } from '../redis-call.js';

/**
 * Liveness, readiness (Redis reachable) and Prometheus metrics; outside /v1, so never behind auth
 * nor the rate limit.
 */
export function healthRoutes(app: FastifyInstance, { redis, metrics }: AppContext): void {
  const probe = { config: { public: true, unlimited: true } };
  app.get('/healthz', probe, async () => ({ status: 'ok' }));

  app.get('/readyz', probe, async () => {
    await redisCall(redis.ping());
    return { status: 'ready' };
  });

  app.get('/metrics', probe, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
