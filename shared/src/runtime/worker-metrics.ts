import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Channel } from '@herald/client';

/** A worker's Prometheus metrics, on a registry of its own, every series labelled by channel. */
export class WorkerMetrics {
  readonly registry = new Registry();

  /** Entries settled, by outcome: delivered, retried, dead, skipped, duplicate (already delivered). */
  readonly deliveries = new Counter({
    name: 'herald_deliveries_total',
    help: 'Entries handled by this worker, by channel and outcome',
    labelNames: ['channel', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly skipped = new Counter({
    name: 'herald_deliveries_skipped_total',
    help: 'Entries skipped, by channel and reason',
    labelNames: ['channel', 'reason'] as const,
    registers: [this.registry],
  });

  /** One provider call (one target), from start to answer. */
  readonly sendDuration = new Histogram({
    name: 'herald_delivery_duration_seconds',
    help: 'Duration of provider calls, by channel and result',
    labelNames: ['channel', 'result'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly inFlight = new Gauge({
    name: 'herald_deliveries_in_flight',
    help: 'Entries being handled right now',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });

  constructor(readonly channel: Channel) {
    collectDefaultMetrics({ register: this.registry, prefix: 'herald_worker_', labels: { channel } });
  }
}

/** `GET /healthz` and `GET /metrics` on their own small server. Resolves with the port it got. */
export async function serveMetrics(
  metrics: WorkerMetrics,
  port: number,
  host: string,
  health: () => Record<string, unknown>,
): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'GET' && path === '/healthz') {
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'ok', ...health() }));
    } else if (request.method === 'GET' && path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => response.writeHead(500).end(),
      );
    } else {
      response
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'HERALD_ERR_NOT_FOUND', message: 'Try /healthz or /metrics' } }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as { port: number }).port };
}
