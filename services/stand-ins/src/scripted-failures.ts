/**
 * Failures a test scripted for a stand-in (`failWith`, `respondWith`), as a queue: each call adds
 * a rule that answers the next `count` matching requests (default: every one until `clear()`),
 * and a request takes the oldest rule that still has requests left. So
 * `respondWith(500, {count: 1}); respondWith(429, {count: 1})` answers 500, then 429, then
 * delivers normally.
 */
export class ScriptedFailures<R> {
  #rules: { rule: R; remaining: number }[] = [];

  /** Queue `rule` for the next `count` requests (default: unlimited). */
  add(rule: R, count?: number): void {
    if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
      throw new RangeError(`count: expected a positive integer (or none for "until reset"), got ${count}`);
    }
    this.#rules.push({ rule, remaining: count ?? Number.POSITIVE_INFINITY });
  }

  /** The oldest rule with requests left for which `applies` holds, counted as used; else undefined. */
  take(applies: (rule: R) => boolean = () => true): R | undefined {
    const entry = this.#rules.find((e) => e.remaining > 0 && applies(e.rule));
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining === 0) this.#rules.splice(this.#rules.indexOf(entry), 1);
    return entry.rule;
  }

  /** Forget every rule. */
  clear(): void {
    this.#rules = [];
  }
}
