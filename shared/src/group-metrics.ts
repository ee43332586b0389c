import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import type { Channel } from '@herald/client';
import { readGroupStatus } from './group-status.js';
import type { Keys } from './layout/keys.js';

/**
 * How long one reading of the groups answers scrapes. /metrics needs no key, and a reading is
 * several Redis commands (more while Redis cannot say a group's lag): a second of staleness
 * means no caller can make Redis work harder by scraping faster. Prometheus and KEDA poll every
 * 15 to 30 s.
 */
export const GROUP_READING_FRESH_MS = 1000;

/**
 * The consumer groups' figures as Prometheus gauges, read from Redis at scrape time (at most once
 * a GROUP_READING_FRESH_MS): what a Prometheus alert or a KEDA scaler scales a channel's workers on.
 */
export function registerGroupMetrics(registry: Registry, redis: Redis, keys: Keys, channels: readonly Channel[]): void {
  const labelNames = ['channel', 'group'] as const;
  // One read feeds every gauge of a scrape, and the scrapes of the next second.
  let reading: Promise<void> | undefined;
  const collect = async () => {
    reading ??= readGroupStatus(redis, keys, channels)
      .then((statuses) => {
        for (const s of statuses) {
          const labels = { channel: s.channel, group: s.group };
          gauges.pending.set(labels, s.pending);
          gauges.lag.set(labels, s.lag);
          gauges.consumers.set(labels, s.consumers.length);
          gauges.oldest.set(labels, s.oldestPendingAgeMs / 1000);
          gauges.deadLetters.set(labels, s.deadLetters);
        }
      })
      .catch(() => undefined) // Redis down: the gauges keep their last values
      .finally(() => setTimeout(() => (reading = undefined), GROUP_READING_FRESH_MS).unref());
    await reading;
  };
  const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames, registers: [registry], collect });
  const gauges = {
    pending: gauge('herald_group_pending', 'Entries handed to a consumer and not yet acknowledged'),
    lag: gauge('herald_group_lag', 'Entries not yet handed to the group'),
    consumers: gauge('herald_group_consumers', 'Consumers of the group'),
    oldest: gauge('herald_group_oldest_pending_age_seconds', 'Age of the oldest pending entry'),
    deadLetters: gauge('herald_dead_letters', 'Dead letters of the channel'),
  };
}
