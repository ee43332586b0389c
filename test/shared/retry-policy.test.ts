import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '@herald/shared';

// The ranges the worker's configuration allows (HERALD_RETRY_BASE_MS, HERALD_RETRY_MAX_MS).
const base = fc.integer({ min: 10, max: 3_600_000 });
const cap = fc.integer({ min: 10, max: 86_400_000 });
// Seeds are stream ids in the worker; any string must do.
const streamId = fc.tuple(fc.nat(), fc.nat({ max: 1000 })).map(([ms, seq]) => `${ms}-${seq}`);
const seed = fc.oneof(streamId, fc.string());
const attempt = fc.integer({ min: 1, max: 200 });

/** Whether `delay` is `expected` ±25 %, allowing the rounding to whole milliseconds. */
function withinJitter(delay: number, expected: number): boolean {
  return delay >= 0.75 * expected - 0.5 && delay <= 1.25 * expected + 0.5;
}

describe('retryDelayMs: base * 2^(attempt-1), ±25 % jitter, capped', () => {
  it('waits about the base after the first attempt', () => {
    fc.assert(
      fc.property(base, seed, (b, s) => {
        // A cap well above the largest jittered value, so only the exponent and jitter show.
        const delay = retryDelayMs(1, b, b * 4, s);
        expect(Number.isInteger(delay)).toBe(true);
        expect(withinJitter(delay, b), `attempt 1, base ${b}: ${delay} ms`).toBe(true);
      }),
    );
  });

  it('waits about twice the base after the second attempt', () => {
    fc.assert(
      fc.property(base, seed, (b, s) => {
        const delay = retryDelayMs(2, b, b * 4, s);
        expect(withinJitter(delay, 2 * b), `attempt 2, base ${b}: ${delay} ms`).toBe(true);
      }),
    );
  });

  it('doubles with each attempt while under the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 10_000 }), fc.integer({ min: 1, max: 16 }), seed, (b, a, s) => {
        const expected = b * 2 ** (a - 1);
        const delay = retryDelayMs(a, b, Math.ceil(expected * 1.25) + 1, s);
        expect(withinJitter(delay, expected), `attempt ${a}, base ${b}: ${delay} ms`).toBe(true);
      }),
    );
  });

  it('never waits longer than the cap', () => {
    fc.assert(
      fc.property(attempt, base, cap, seed, (a, b, max, s) => {
        const delay = retryDelayMs(a, b, max, s);
        expect(delay).toBeLessThanOrEqual(max);
        expect(delay).toBeGreaterThan(0);
      }),
    );
  });

  it('waits exactly the cap once even the smallest jitter reaches it', () => {
    fc.assert(
      fc.property(attempt, base, cap, seed, (a, b, max, s) => {
        // The exponent stops growing at 2^30 (see retry-policy.ts).
        fc.pre(0.75 * b * 2 ** Math.min(a - 1, 30) >= max);
        expect(retryDelayMs(a, b, max, s)).toBe(max);
      }),
    );
    // With the defaults (1 s, 300 s): attempt 10 is 512 s ±25 %, never under 384 s.
    expect(retryDelayMs(10, 1000, 300_000, '1700000000000-0')).toBe(300_000);
    expect(retryDelayMs(1000, 1000, 300_000, '1700000000000-0')).toBe(300_000);
  });

  it('gives the same delay for the same entry and attempt, every time it is asked', () => {
    // The reclaimer computes an entry's delay on every scan: a fresh draw each time would let
    // the smallest one win, and the jitter would only ever shorten the wait.
    fc.assert(
      fc.property(attempt, base, cap, seed, (a, b, max, s) => {
        const first = retryDelayMs(a, b, max, s);
        for (let i = 0; i < 5; i++) expect(retryDelayMs(a, b, max, s)).toBe(first);
      }),
    );
  });

  it('spreads entries that failed together over the jitter range', () => {
    const delays = new Set(Array.from({ length: 50 }, (_, i) => retryDelayMs(3, 1000, 300_000, `1700000000000-${i}`)));
    // 50 entries into a 2000 ms window: far from all on one instant.
    expect(delays.size).toBeGreaterThan(25);
    for (const d of delays) expect(withinJitter(d, 4000)).toBe(true);
  });
});
