import type { Redis } from 'ioredis';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CHANNELS, registerGroupMetrics, type Keys } from '@herald/shared';

/** The publisher's Prometheus metrics, on a registry of its own (one per app instance). */
export class PublisherMetrics {
  readonly registry = new Registry();

  /** Notifications by outcome: accepted, duplicate, rejected (invalid or mismatched), unavailable. */
  readonly published = new Counter({
    name: 'herald_notifications_published_total',
    help: 'Notifications received by the publisher, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'herald_http_request_duration_seconds',
    help: 'HTTP request durations, by method, route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(redis: Redis, keys: Keys) {
    collectDefaultMetrics({ register: this.registry, prefix: 'herald_publisher_' });
    // Every channel's group figures, so one scrape of the publisher shows the whole system.
    registerGroupMetrics(this.registry, redis, keys, CHANNELS);
  }
}
