import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { DeliveryError } from '@herald/shared';

const RATE_LIMIT_SCRIPT = readFileSync(new URL('./rate-limit-1.lua', import.meta.url), 'utf8');

type RateLimitCommand = (key: string, perSecond: number) => Promise<number>;

/** A per-second send budget shared by every replica of a channel (see rate-limit-1.lua). */
export interface RateLimiter {
  /**
   * Wait until this second's budget has room, then take one send from it. Rejects with a
   * transient DeliveryError when `signal` aborts first.
   */
  take(signal: AbortSignal): Promise<void>;
}

/**
 * A limiter of `perSecond` sends per second (by Redis's clock) counted under `key`, which
 * should carry the stream's hash tag. When the budget is used up, waits until the next second
 * and asks again.
 */
export function createRateLimiter(redis: Redis, key: string, perSecond: number): RateLimiter {
  redis.defineCommand('heraldRateLimit', { numberOfKeys: 1, lua: RATE_LIMIT_SCRIPT });
  const take = (redis as Redis & { heraldRateLimit: RateLimitCommand }).heraldRateLimit.bind(redis);
  return {
    async take(signal) {
      for (;;) {
        if (signal.aborted) throw waitAborted(signal);
        const waitMs = Number(await take(key, perSecond));
        if (waitMs <= 0) return;
        try {
          await sleep(waitMs, undefined, { signal });
        } catch {
          throw waitAborted(signal, waitMs);
        }
      }
    },
  };
}

function waitAborted(signal: AbortSignal, waitMs?: number): DeliveryError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return new DeliveryError('transient', `gave up waiting for the SMS rate limit: ${reason}`, waitMs, { cause: signal.reason });
}
