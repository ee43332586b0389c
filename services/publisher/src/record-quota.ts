import { HeraldError, type Scripts } from '@herald/shared';
import { redisCall } from './redis-call.js';

export interface RecordQuotaOptions {
  scripts: Scripts;
  /** HERALD_MAX_RECORDS_PER_KEY; 0 turns the quota off. */
  maxRecords: number;
  /** How long a notification's record lives, in seconds. */
  recordTtlS: number;
}

/**
 * HERALD_MAX_RECORDS_PER_KEY: the rate limit bounds how fast one key fills Redis, this bounds how
 * much it holds at once (a record lives for days). One script call per publishing request, made
 * only when the cap is set (see hold-records-1.lua in shared/src/scripts).
 */
export class RecordQuota {
  constructor(private readonly options: RecordQuotaOptions) {}

  /** Whether HERALD_MAX_RECORDS_PER_KEY is set: callers skip `take` (and its promise) when not. */
  get enabled(): boolean {
    return this.options.maxRecords > 0;
  }

  /** Let `caller` hold the records of `ids`, or throw 429 (with when to retry) when over its cap. */
  async take(caller: string, ids: readonly string[], onRefused: (retryAfterS: number) => void): Promise<void> {
    if (!this.enabled || ids.length === 0) return;
    const { scripts, maxRecords, recordTtlS } = this.options;
    const now = Date.now();
    const [held, untilMs] = await redisCall(scripts.holdRecords(caller, now, now + recordTtlS * 1000, maxRecords, ids));
    if (!held) return;
    const retryAfterS = Math.max(1, Math.ceil(Number(untilMs) / 1000));
    onRefused(retryAfterS);
    throw new HeraldError(
      'HERALD_ERR_RATE_LIMITED',
      `This key holds ${held} notification records and may hold ${maxRecords} (HERALD_MAX_RECORDS_PER_KEY); ` +
        `${ids.length} more would pass it. Records expire with HERALD_RETENTION_S; the oldest in ${retryAfterS} s`,
    );
  }
}
