import { hostname } from 'node:os';
import { z } from 'zod';
import { commonEnv, envBool, envInt, envList } from '../config.js';
import { DEFAULT_METRICS_PORTS, type Channel } from '@herald/client';

/** The environment every channel worker reads; each service adds its provider's variables. */
export function workerEnv(channel: Channel) {
  return {
    ...commonEnv,
    /** This replica's consumer name within the group. Default `<hostname>-<pid>`. */
    HERALD_CONSUMER: z
      .string()
      .trim()
      .default(`${hostname()}-${process.pid}`)
      .refine((v) => v.length > 0 && v.length <= 200 && !/\s/.test(v), {
        message: 'expected 1 to 200 characters without spaces',
      }),
    /** Consumers idle longer than this with nothing pending are removed from the group, in seconds. Default 3600. */
    HERALD_CONSUMER_GC_S: envInt(3600, 1),
    /** Most entries read at once. Default 100. */
    HERALD_BATCH: envInt(100, 1, 10_000),
    /** Most deliveries in flight at once. Default 50. */
    HERALD_CONCURRENCY: envInt(50, 1, 10_000),
    /** Types this worker delivers (comma list); `*` is every type. Default `*`. */
    HERALD_TYPES: envList().transform((list) => (list.length === 0 ? ['*'] : list)),
    /** Time-out of every provider call, in ms. Default 10000. */
    HERALD_SEND_TIMEOUT_MS: envInt(10_000, 100, 600_000),
    /** First retry after this long, doubling per attempt, in ms. Default 1000. */
    HERALD_RETRY_BASE_MS: envInt(1000, 10, 3_600_000),
    /** Longest wait between attempts, in ms. Default 300000. */
    HERALD_RETRY_MAX_MS: envInt(300_000, 10, 86_400_000),
    /** Attempts before an entry is dead-lettered. Default 8. */
    HERALD_MAX_ATTEMPTS: envInt(8, 1, 1000),
    /** Run everything but the provider call, which succeeds without sending. Default false. */
    HERALD_DRY_RUN: envBool(false),
    /** Port of /healthz and /metrics; `0` picks a free one and logs it. */
    HERALD_METRICS_PORT: envInt(DEFAULT_METRICS_PORTS[channel], 0, 65535),
    /** How often this replica trims the stream and the dead letters, in seconds. Default 30. */
    HERALD_TRIM_INTERVAL_S: envInt(30, 1, 86_400),
    /** Host of /healthz and /metrics. Default 127.0.0.1. */
    HERALD_METRICS_HOST: z.string().trim().default('127.0.0.1'),
  };
}

export type WorkerConfig = z.output<z.ZodObject<ReturnType<typeof workerEnv>>>;
