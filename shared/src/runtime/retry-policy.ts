/**
 * When a failed entry may be tried again: `base * 2^(attempt-1)`, capped at `max`, with ±25 %
 * jitter so entries that failed together are not retried together. With the defaults (1 s,
 * 300 s): about 1, 2, 4, 8, 16, 32, 64, 128 s, then 300 s.
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, jitterSeed: string): number {
  const exponential = baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30));
  // Jitter first, then the cap, so no wait is ever longer than HERALD_RETRY_MAX_MS.
  return Math.min(maxMs, Math.round(exponential * (0.75 + 0.5 * unitHash(`${jitterSeed}:${attempt}`))));
}

/**
 * A number in [0, 1) from a string. The jitter must be the same every time the reclaimer looks
 * at one entry's attempt, or repeated scans would shrink it to the smallest draw.
 */
function unitHash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) / 2 ** 32;
}
