import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from './logger.js';
import { reconnectDelay } from './redis.js';

/** One write: exactly one command that must succeed, and optional best-effort ones after it. */
export interface BatchedWrite {
  /** Adds exactly one command (a settle script call); retried until it succeeds. */
  critical(pipeline: ChainableCommander): void;
  /** Adds commands whose failure is only logged (e.g. removing a gone push subscription). */
  extra?(pipeline: ChainableCommander): void;
}

/**
 * Collects the writes that settle entries and sends everything queued in the same tick as one
 * pipeline: deliveries that finish together cost one round trip, not one each.
 *
 * A write that fails (Redis down, out of memory, read-only during a failover) is tried again
 * with backoff until it succeeds or the batcher is closed, and only that write: an entry is
 * acknowledged by its own settle script, never without its outcome, and giving up would mean
 * sending it again.
 */
export class WriteBatcher {
  private queue: { write: BatchedWrite; resolve: () => void; reject: (err: Error) => void }[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
  ) {}

  enqueue(write: BatchedWrite): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the worker is stopping'));
    const done = new Promise<void>((resolve, reject) => this.queue.push({ write, resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush(this.takeQueue(), 1));
    }
    return done;
  }

  /** Stop retrying; what still fails is rejected (its entries stay pending). */
  close(): void {
    this.closed = true;
  }

  private takeQueue() {
    const queue = this.queue;
    this.queue = [];
    this.scheduled = false;
    return queue;
  }

  private async flush(batch: typeof this.queue, attempt: number): Promise<void> {
    const pipeline = this.redis.pipeline();
    const criticalIndex: number[] = [];
    for (const { write } of batch) {
      criticalIndex.push(pipeline.length);
      write.critical(pipeline);
      write.extra?.(pipeline);
    }
    let replies: [Error | null, unknown][];
    try {
      replies = (await pipeline.exec()) ?? [];
    } catch (err) {
      replies = batch.map(() => [err as Error, null]);
    }
    const failed: typeof batch = [];
    let firstError: Error | undefined;
    batch.forEach((entry, i) => {
      const [err] = replies[criticalIndex[i]!] ?? [new Error('no reply')];
      if (err) {
        failed.push(entry);
        firstError ??= err;
      } else {
        entry.resolve();
      }
    });
    replies.forEach(([err], index) => {
      if (err && !criticalIndex.includes(index)) this.logger.warn({ err: err.message }, 'a best-effort write failed');
    });
    if (failed.length === 0) return;
    if (this.closed) {
      for (const entry of failed) entry.reject(firstError!);
      return;
    }
    const delay = reconnectDelay(attempt);
    this.logger.warn({ err: firstError!.message, writes: failed.length, retryInMs: delay }, 'settle writes failed; retrying them');
    await new Promise((resolve) => setTimeout(resolve, delay));
    await this.flush(failed, attempt + 1);
  }
}
