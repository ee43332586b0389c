/**
 * What a stand-in received, in arrival order, and the callers waiting for it.
 *
 * Each stand-in exposes `items` as a plain array (`messages`, `received`) so tests can read it
 * directly; `waitFor(n)` lets them wait for a count without polling or sleeping. `clear()`
 * empties the array in place, so a reference a test took earlier stays current.
 */
export class Arrivals<T> {
  /** Everything received so far, oldest first. */
  readonly items: T[] = [];
  readonly #waiters = new Set<{ n: number; resolve: (items: T[]) => void }>();

  /** @param what Names the items in time-out messages, e.g. `mail message(s)`. */
  constructor(private readonly what: string) {}

  /** Record one arrival and wake the callers whose count is now reached. */
  push(item: T): void {
    this.items.push(item);
    for (const waiter of this.#waiters) {
      if (this.items.length >= waiter.n) {
        this.#waiters.delete(waiter);
        waiter.resolve(this.items.slice());
      }
    }
  }

  /**
   * Resolves with a copy of every item (at least `n`) as soon as `n` have arrived; rejects
   * after `timeoutMs` milliseconds with the count seen so far.
   */
  waitFor(n: number, timeoutMs: number): Promise<T[]> {
    if (this.items.length >= n) return Promise.resolve(this.items.slice());
    return new Promise<T[]>((resolve, reject) => {
      const waiter = {
        n,
        resolve: (items: T[]) => {
          clearTimeout(timer);
          resolve(items);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${n} ${this.what}; received ${this.items.length}`),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Forget everything received (waiters keep waiting for new arrivals). */
  clear(): void {
    this.items.length = 0;
  }
}
