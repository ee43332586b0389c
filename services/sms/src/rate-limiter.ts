import { setTimeout as sleep } from 'node:timers/promises';
import { DeliveryError, type Channel, type Scripts } from '@herald/shared';

/** A per-second send budget shared by every replica of a channel (see rate-limit-1.lua in shared/src/scripts). */
export interface RateLimiter {
  /**
   * Wait until this second's budget has room, then take one send from it. Rejects with a
   * transient DeliveryError when `signal` aborts first.
   */
  take(signal: AbortSignal): Promise<void>;
}

/**
 * A limiter of `perSecond` sends per second (by Redis's clock) for `channel`, shared by its
 * replicas. When the budget is used up, waits until the next second and asks again.
 */
export function createRateLimiter(scripts: Scripts, channel: Channel, perSecond: number): RateLimiter {
  return {
    async take(signal) {
      for (;;) {
        if (signal.aborted) throw waitAborted(signal);
        const waitMs = await scripts.rateLimit(channel, perSecond);
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
  return new DeliveryError('transient', `gave up waiting for the SMS rate limit: ${reason}`, waitMs, {
    cause: signal.reason,
  });
}
