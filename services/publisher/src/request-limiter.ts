import type { Redis } from 'ioredis';
import type { Logger, Scripts } from '@herald/shared';

/** What a caller's budget answered: go, or wait this long before trying again. */
export type LimitDecision = { allowed: true } | { allowed: false; retryAfterS: number };

export interface RequestLimiterOptions {
  redis: Redis;
  scripts: Scripts;
  /** Requests per minute per caller (HERALD_RATE_LIMIT); 0 turns the limiter off. */
  perMinute: number;
  /** How long to wait for Redis before letting the request through, in ms. */
  deadlineMs: number;
  logger: Logger;
}

/** After Redis failed to answer the limiter, how long requests go unchecked before it asks again. */
const PAUSE_AFTER_FAILURE_MS = 1000;

/**
 * HERALD_RATE_LIMIT: requests per minute per caller (an API key, or a client address when no
 * key is configured), counted in Redis so every publisher replica draws on one budget (see
 * request-limit-batch-n.lua). Requests that arrive in the same turn of the event loop share one
 * script call and one deadline, as single publishes do: a Redis call and a timer per request
 * would cost more than the rest of a publish.
 *
 * It fails open: when Redis does not answer within `deadlineMs`, the request goes on and meets
 * Redis on its own, answering whatever its route answers without Redis (503 for a route that
 * needs it). A limiter must never refuse more than the outage itself does, nor add much to how
 * long the 503 takes: after a failure it stops asking for PAUSE_AFTER_FAILURE_MS, so during an
 * outage one request a second waits up to `deadlineMs` more, and the others not at all.
 */
export class RequestLimiter {
  private pausedUntil = 0;
  private lastWarning = 0;
  /** Requests waiting for the next script call. */
  private waiting: { caller: string; units: number; resolve: (decision: LimitDecision) => void }[] = [];

  constructor(private readonly options: RequestLimiterOptions) {}

  /**
   * Spend `units` (a request, or a batch's notifications; at most a minute's budget, which the
   * caller checks) of `caller`'s budget; `caller` must not be a secret (it names a Redis key).
   */
  spend(caller: string, units = 1): Promise<LimitDecision> {
    const { redis, perMinute } = this.options;
    if (perMinute <= 0 || units <= 0 || Date.now() < this.pausedUntil || redis.status !== 'ready')
      return Promise.resolve({ allowed: true });
    return new Promise<LimitDecision>((resolve) => {
      this.waiting.push({ caller, units, resolve });
      if (this.waiting.length === 1) setImmediate(() => void this.spendWaiting());
    });
  }

  private async spendWaiting(): Promise<void> {
    const { perMinute, deadlineMs } = this.options;
    const waiting = this.waiting;
    this.waiting = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = this.options.scripts.requestLimitBatch(perMinute, waiting);
      const deadline = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${deadlineMs} ms`)), deadlineMs);
      });
      answer.catch(() => {}); // it may fail after the deadline settled the race
      const waits = await Promise.race([answer, deadline]);
      waiting.forEach((w, i) => {
        const waitMs = Number(waits[i]);
        w.resolve(
          waitMs > 0 ? { allowed: false, retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)) } : { allowed: true },
        );
      });
    } catch (err) {
      this.pausedUntil = Date.now() + PAUSE_AFTER_FAILURE_MS;
      // At most one line a minute: an outage would otherwise log one a second.
      if (Date.now() - this.lastWarning > 60_000) {
        this.lastWarning = Date.now();
        this.options.logger.warn(
          { err: (err as Error).message },
          'rate limit unavailable (Redis); letting requests through',
        );
      }
      for (const w of waiting) w.resolve({ allowed: true });
    } finally {
      clearTimeout(timer);
    }
  }
}
