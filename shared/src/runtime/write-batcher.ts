import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { reconnectDelay } from '../redis.js';

/** One queued write: its part of the batch's one command, and optional best-effort commands. */
export interface BatchedWrite<Part> {
  /** This write's share of the one critical command (e.g. an entry's part of a settle script). */
  part: Part;
  /** Adds commands whose failure is only logged (e.g. forgetting a target the provider says is gone). */
  extra?(pipeline: ChainableCommander): void;
}

/**
 * Collects the writes that settle entries and sends everything queued in the same tick as ONE
 * critical command built from all their parts (one settle script call for the whole batch),
 * then the best-effort extras: deliveries that finish together cost one round trip and one
 * script call, not one each. The critical command goes on the connection itself, not in a
 * pipeline: ioredis sends a script in a pipeline as EVAL with its whole text every time, and on
 * the connection as EVALSHA once it is known there.
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
    /** Sends exactly one command carrying every part, in order. */
    private readonly send: (parts: Part[]) => Promise<unknown>,
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
    try {
      await this.send(batch.map(({ write }) => write.part));
    } catch (err) {
      if (this.closed) {
        for (const entry of batch) entry.reject(err as Error);
        return;
      }
      const delay = reconnectDelay(attempt);
      this.logger.warn(
        { err: (err as Error).message, writes: batch.length, retryInMs: delay },
        'settle writes failed; retrying them',
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
      await this.flush(batch, attempt + 1);
      return;
    }
    for (const entry of batch) entry.resolve();
    const extras = batch.filter(({ write }) => write.extra !== undefined);
    if (extras.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const { write } of extras) write.extra!(pipeline);
    const replies = await pipeline.exec().catch((err: Error) => [[err, null] as const]);
    for (const [err] of replies ?? []) if (err) this.logger.warn({ err: err.message }, 'a best-effort write failed');
  }
}
