import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from './logger.js';
import { reconnectDelay } from './redis.js';

/**
 * Collects the writes that settle entries (status, claim marks, dead letters) and their XACKs,
 * and sends everything queued in the same tick as one pipeline, with one XACK for all ids.
 * Deliveries that finish together cost one round trip, not one each.
 *
 * A flush that fails (Redis down) is retried with backoff until it succeeds or the batcher is
 * closed: an entry is acknowledged only after its outcome is written, and giving up on the
 * write would mean sending it again.
 */
export class WriteBatcher {
  private writes: ((pipeline: ChainableCommander) => void)[] = [];
  private acks: string[] = [];
  private waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
    private readonly group: string,
    private readonly logger: Logger,
  ) {}

  /** Queue writes and, when `ackId` is given, the entry's XACK after them. */
  enqueue(write: ((pipeline: ChainableCommander) => void) | undefined, ackId?: string): Promise<void> {
    if (write) this.writes.push(write);
    if (ackId) this.acks.push(ackId);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
    return done;
  }

  /** Stop retrying failed flushes; what is still queued is rejected (its entries stay pending). */
  close(): void {
    this.closed = true;
  }

  private async flush(): Promise<void> {
    const writes = this.writes;
    const acks = this.acks;
    const waiters = this.waiters;
    this.writes = [];
    this.acks = [];
    this.waiters = [];
    this.scheduled = false;
    for (let attempt = 1; ; attempt++) {
      const pipeline = this.redis.pipeline();
      for (const write of writes) write(pipeline);
      if (acks.length) pipeline.xack(this.stream, this.group, ...acks);
      try {
        const replies = await pipeline.exec();
        for (const [err] of replies ?? []) {
          if (err) this.logger.error({ err: err.message }, 'a settle write failed; its entry stays pending');
        }
        for (const w of waiters) w.resolve();
        return;
      } catch (err) {
        if (this.closed) {
          for (const w of waiters) w.reject(err as Error);
          return;
        }
        const delay = reconnectDelay(attempt);
        this.logger.warn({ err: (err as Error).message, retryInMs: delay }, 'settle writes failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}
