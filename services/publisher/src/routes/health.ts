import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app.js';
import { redisCall } from '../redis-call.js';

/** Liveness, readiness (Redis reachable) and Prometheus metrics; outside /v1, so never behind auth. */
export function healthRoutes(app: FastifyInstance, { redis, metrics }: AppContext): void {
  app.get('/healthz', { config: { public: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { public: true } }, async () => {
    await redisCall(redis.ping());
    return { status: 'ready' };
  });

  app.get('/metrics', { config: { public: true } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

}
