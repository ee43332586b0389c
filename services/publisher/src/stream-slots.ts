import { HeraldError } from '@herald/shared';

/** What a refused stream's client is told to wait: a slot frees only when another stream closes. */
export const STREAM_RETRY_AFTER_S = 5;

/**
 * The live streams open in this process, counted in total and per caller (`request.caller`: an
 * API key, or a client address without keys) against HERALD_MAX_STREAMS and
 * HERALD_MAX_STREAMS_PER_KEY. Each stream holds a Redis connection and an HTTP connection for as
 * long as its client stays, so without a cap a client could open them until the process or
 * Redis runs out of connections (issue 12).
 */
export class StreamSlots {
  private total = 0;
  private readonly perCaller = new Map<string, number>();

  constructor(private readonly limits: { total: number; perCaller: number }) {}

  /**
   * A slot for `caller`, and the function that gives it back (safe to call twice); or, when a cap
   * is reached, 429 HERALD_ERR_RATE_LIMITED naming the cap's variable.
   */
  take(caller: string): { release: () => void } | { refusal: HeraldError } {
    const mine = this.perCaller.get(caller) ?? 0;
    if (mine >= this.limits.perCaller) {
      return {
        refusal: full(
          `${mine} live streams are open for this key (HERALD_MAX_STREAMS_PER_KEY is ${this.limits.perCaller})`,
        ),
      };
    }
    if (this.total >= this.limits.total) {
      return {
        refusal: full(
          `${this.total} live streams are open on this publisher (HERALD_MAX_STREAMS is ${this.limits.total})`,
        ),
      };
    }
    this.total++;
    this.perCaller.set(caller, mine + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.perCaller.get(caller) ?? 1) - 1;
        if (left > 0) this.perCaller.set(caller, left);
        else this.perCaller.delete(caller);
      },
    };
  }
}

function full(what: string): HeraldError {
  return new HeraldError(
    'HERALD_ERR_RATE_LIMITED',
    `Too many live streams: ${what}; close one, or retry after ${STREAM_RETRY_AFTER_S} s`,
  );
}
