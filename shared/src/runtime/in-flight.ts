import type { RuntimeContext } from './context.js';
import type { WorkItem } from './work.js';

/**
 * The entries this replica is handling, and the slots they hold: reading and taking back draw on
 * the same HERALD_CONCURRENCY slots. Also when each entry may be taken back at the earliest,
 * where a provider answered with a Retry-After.
 */
export class InFlight {
  private readonly items = new Map<string, WorkItem>();
  /** Retry-After answers: an entry is not taken back before its time. */
  private readonly notBefore = new Map<string, number>();
  private slotWaiters: (() => void)[] = [];
  /** Counts reads, so every attempt's token is its own even when delivery counts repeat. */
  private reads = 0;

  constructor(private readonly ctx: RuntimeContext) {}

  get size(): number {
    return this.items.size;
  }

  get freeSlots(): number {
    return Math.max(0, this.ctx.config.HERALD_CONCURRENCY - this.items.size);
  }

  has(streamId: string): boolean {
    return this.items.has(streamId);
  }

  streamIds(): string[] {
    return [...this.items.keys()];
  }

  /** Not to be taken back before `retryAfterMs` from now. */
  holdBack(streamId: string, retryAfterMs: number): void {
    this.notBefore.set(streamId, Date.now() + retryAfterMs);
  }

  /** Whether a Retry-After still holds the entry back at `now`. */
  heldBack(streamId: string, now: number): boolean {
    return (this.notBefore.get(streamId) ?? 0) > now;
  }

  /** Start handling an entry; undefined when this replica is handling it already. */
  track(streamId: string, fields: string[], attempt: number): WorkItem | undefined {
    // A replay (XGROUP SETID) hands back entries that may still be in flight here.
    if (this.items.has(streamId)) return undefined;
    const item: WorkItem = {
      streamId,
      fields,
      attempt,
      token: `${this.ctx.consumerName}|${streamId}|${attempt}|${++this.reads}`,
      settling: false,
      pass: 0,
    };
    this.items.set(streamId, item);
    this.ctx.metrics.inFlight.labels(this.ctx.channel).set(this.items.size);
    return item;
  }

  finish(item: WorkItem, acknowledged: boolean): void {
    if (this.items.get(item.streamId) !== item) return;
    this.items.delete(item.streamId);
    if (acknowledged) this.notBefore.delete(item.streamId);
    this.ctx.metrics.inFlight.labels(this.ctx.channel).set(this.items.size);
    this.wakeSlotWaiters();
  }

  /** Free an entry's slot without writing anything: it stays pending and comes back later. */
  leavePending(item: WorkItem): void {
    if (!item.settling) this.finish(item, false);
  }

  /** Resolves when a slot may have come free (or on wakeSlotWaiters, at shutdown). */
  slotFreed(): Promise<void> {
    return new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  wakeSlotWaiters(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Whether every entry finished within `timeoutMs`. */
  async waitForIdle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.items.size > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(100, deadline - Date.now()));
        this.slotWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }
}
