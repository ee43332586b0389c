import { setTimeout as delay } from 'node:timers/promises';
import { createGroupAtStart } from '../consumer-group.js';
import { reconnectDelay } from '../redis.js';
import type { RuntimeContext } from './context.js';
import type { InFlight } from './in-flight.js';
import { Reclaimer } from './reclaimer.js';
import type { WorkItem } from './work.js';

/** Longest a blocking read waits before the loop looks around again (the issue caps it at 5 s). */
const BLOCK_MS = 2000;

/** Create the channel's group from the start of the stream, unless it exists. */
export async function ensureGroup(ctx: RuntimeContext): Promise<void> {
  const { redis, keys, logger, group } = ctx;
  if (await createGroupAtStart(redis, keys.stream, group)) logger.info({ group }, 'created consumer group from 0');
}

/**
 * One loop takes back due entries and reads new ones, in turn, so both draw on the same free
 * slots and never hold more than HERALD_CONCURRENCY between them. The blocking read waits at
 * most half the first retry delay (50 ms to 2 s), so retries are not held up by a quiet stream.
 */
export class ReadLoop {
  private running = false;
  private done: Promise<void> = Promise.resolve();
  private readonly reclaimer: Reclaimer;

  constructor(
    private readonly ctx: RuntimeContext,
    private readonly inFlight: InFlight,
    private readonly handle: (items: WorkItem[]) => void,
  ) {
    this.reclaimer = new Reclaimer(ctx, inFlight, handle, () => this.running);
  }

  start(): void {
    this.running = true;
    this.done = this.loop();
  }

  /** Stop at the next turn; resolves when the loop has ended. */
  stop(): Promise<void> {
    this.running = false;
    return this.done;
  }

  private async loop(): Promise<void> {
    const { config } = this.ctx;
    const blockMs = Math.min(BLOCK_MS, Math.max(50, Math.floor(config.HERALD_RETRY_BASE_MS / 2)));
    let nextReclaim = 0;
    let failures = 0;
    while (this.running) {
      // Never COUNT 0, which Redis reads as "no limit": wait for a slot instead.
      if (this.inFlight.freeSlots === 0) await this.inFlight.slotFreed();
      if (!this.running) break;
      if (Date.now() >= nextReclaim) {
        await this.reclaimer.reclaim();
        nextReclaim = Date.now() + blockMs;
      }
      const count = Math.min(this.inFlight.freeSlots, config.HERALD_BATCH);
      if (count === 0) continue;
      try {
        const items = await this.read(count, blockMs);
        failures = 0;
        if (items.length) this.handle(items);
      } catch (err) {
        if (!this.running) break;
        await this.recover(err as Error, ++failures);
      }
    }
  }

  /** One XREADGROUP of up to `count` new entries, tracked as first attempts. */
  private async read(count: number, blockMs: number): Promise<WorkItem[]> {
    const { blockingRedis, keys, group, consumerName } = this.ctx;
    // Laid out by hand: one line per option of the command.
    // prettier-ignore
    const reply = (await blockingRedis.xreadgroup(
      'GROUP', group, consumerName,
      'COUNT', count,
      'BLOCK', blockMs,
      'STREAMS', keys.stream, '>',
    )) as [string, [string, string[]][]][] | null;
    const entries = reply?.[0]?.[1];
    return (entries ?? [])
      .map(([streamId, fields]) => this.inFlight.track(streamId, fields, 1))
      .filter((i) => i !== undefined);
  }

  /** Wait before reading again, with backoff; make the group again if it was removed. */
  private async recover(err: Error, failures: number): Promise<void> {
    const message = String(err.message);
    const wait = reconnectDelay(failures);
    this.ctx.logger.warn({ err: message, retryInMs: wait }, 'reading the stream failed');
    await delay(wait);
    // The group (or the stream) was removed under us, e.g. by an operator: make it again.
    if (message.startsWith('NOGROUP')) await ensureGroup(this.ctx).catch(() => undefined);
  }
}
