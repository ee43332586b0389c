import type { Redis } from 'ioredis';
import type { ChannelDriver } from '../channel-driver.js';
import { GROUPS, type Channel } from '@herald/client';
import type { Keys } from '../layout/keys.js';
import type { Logger } from '../logger.js';
import type { Scripts } from '../scripts/scripts.js';
import type { WorkerConfig } from './worker-config.js';
import type { WorkerMetrics } from './worker-metrics.js';

export interface ConsumerOptions {
  channel: Channel;
  driver: ChannelDriver;
  config: WorkerConfig;
  /** Commands (non-blocking). */
  redis: Redis;
  /** The blocking XREADGROUP only: a blocked connection can carry nothing else. */
  blockingRedis: Redis;
  keys: Keys;
  /** The Lua scripts, on `redis`. */
  scripts: Scripts;
  logger: Logger;
  metrics: WorkerMetrics;
}

/** What every piece of one consumer reads: its options, and what follows from them. */
export interface RuntimeContext extends Readonly<ConsumerOptions> {
  readonly group: string;
  readonly consumerName: string;
  /** How long a target's claim is leased to the attempt sending to it, in ms. */
  readonly leaseMs: number;
  /** How long notification records live (HERALD_RETENTION_S), in seconds. */
  readonly recordTtlS: number;
  /**
   * Aborted when the shutdown's drain time is up: what waits for a rate limit or a send stops.
   * One for every entry (one controller per entry showed in profiles).
   */
  readonly stopping: AbortSignal;
}

export function runtimeContext(options: ConsumerOptions, stopping: AbortSignal): RuntimeContext {
  const { config, channel } = options;
  return {
    ...options,
    group: GROUPS[channel],
    consumerName: config.HERALD_CONSUMER,
    // Longer than any send can take, so while one replica is sending no other one does.
    leaseMs: config.HERALD_SEND_TIMEOUT_MS + Math.max(2000, config.HERALD_SEND_TIMEOUT_MS / 2),
    recordTtlS: config.HERALD_RETENTION_S,
    stopping,
  };
}
