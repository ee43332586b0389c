import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from './logger.js';
import { reconnectDelay } from './redis.js';

/** One queued write: its part of the batch's one command, and optional best-effort commands. */
export interface BatchedWrite<Part> {
  /** This write's share of the one critical command (e.g. an entry's part of a settle script). */
  part: Part;
  /** Adds commands whose failure is only logged (e.g. removing a gone push subscription). */
  extra?(pipeline: ChainableCommander): void;
}

/**
 * Collects the writes that settle entries and sends everything queued in the same tick as one
 * pipeline holding ONE critical command built from all their parts (one settle script call for
 * the whole batch), then the best-effort extras: deliveries that finish together cost one
 * round trip and one script call, not one each.
 *
 * A batch whose critical command fails (Redis down, out of memory, read-only during a failover)
 * is tried again with backoff until it succeeds or the batcher is closed: an entry is
 * acknowledged by the same atomic command that writes its outcome, never without it, and giving
 * up would mean sending it again.
 */
export class WriteBatcher<Part> {
  private queue: { write: BatchedWrite<Part>; resolve: () => void; reject: (err: Error) => void }[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    /** Adds exactly one command carrying every part, in order. */
    private readonly build: (pipeline: ChainableCommander, parts: Part[]) => void,
  ) {}

  enqueue(write: BatchedWrite<Part>): Promise<void> {
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
    this.build(
      pipeline,
      batch.map(({ write }) => write.part),
    );
    for (const { write } of batch) write.extra?.(pipeline);
    let replies: [Error | null, unknown][];
    try {
      replies = (await pipeline.exec()) ?? [];
    } catch (err) {
      replies = [[err as Error, null]];
    }
    const [critical = [new Error('no reply'), null], ...extras] = replies;
    for (const [err] of extras) if (err) this.logger.warn({ err: err.message }, 'a best-effort write failed');
    const [err] = critical;
    if (!err) {
      for (const entry of batch) entry.resolve();
      return;
    }
    if (this.closed) {
      for (const entry of batch) entry.reject(err);
      return;
    }
    const delay = reconnectDelay(attempt);
    this.logger.warn({ err: err.message, writes: batch.length, retryInMs: delay }, 'settle writes failed; retrying them');
    await new Promise((resolve) => setTimeout(resolve, delay));
    await this.flush(batch, attempt + 1);
  }
}
