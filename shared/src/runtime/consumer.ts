import { setTimeout as delay } from 'node:timers/promises';
import { BatchHandler } from './batch-handler.js';
import { CONSUMER_GC_INTERVAL_MS, collectIdleConsumers } from './consumer-cleanup.js';
import { runtimeContext, type ConsumerOptions, type RuntimeContext } from './context.js';
import { Delivery } from './delivery.js';
import { InFlight } from './in-flight.js';
import { LeaseKeeper } from './lease-keeper.js';
import { ReadLoop, ensureGroup } from './read-loop.js';
import { SendDeadlines } from './send-deadlines.js';
import { Settler } from './settlement.js';

export type { ConsumerOptions } from './context.js';
export type { DeadLetterReason } from './work.js';

/**
 * The consumer runtime every channel worker runs: reads its group's entries, filters them,
 * claims, sends through the channel's driver, retries, dead-letters, and keeps each entry's
 * status. One instance is one consumer (one replica) of the channel's group. This class only
 * wires the pieces together and runs their lifecycle; each piece is a file of this folder.
 */
export class Consumer {
  readonly group: string;
  readonly consumerName: string;
  private readonly ctx: RuntimeContext;
  private readonly inFlight: InFlight;
  private readonly deadlines: SendDeadlines;
  private readonly settler: Settler;
  private readonly leases: LeaseKeeper;
  private readonly reads: ReadLoop;
  private timers: NodeJS.Timeout[] = [];
  private closing?: Promise<void>;
  /** Aborted when the shutdown's drain time is up (see RuntimeContext.stopping). */
  private readonly stopping = new AbortController();

  constructor(options: ConsumerOptions) {
    const ctx = runtimeContext(options, this.stopping.signal);
    this.ctx = ctx;
    this.group = ctx.group;
    this.consumerName = ctx.consumerName;
    this.inFlight = new InFlight(ctx);
    this.deadlines = new SendDeadlines(options.config.HERALD_SEND_TIMEOUT_MS);
    this.settler = new Settler(ctx, this.inFlight);
    this.leases = new LeaseKeeper(ctx, this.inFlight, this.settler);
    const delivery = new Delivery(ctx, this.inFlight, this.settler, this.leases, this.deadlines);
    const batches = new BatchHandler(ctx, this.inFlight, this.settler, delivery);
    this.reads = new ReadLoop(ctx, this.inFlight, (items) => batches.handle(items));
  }

  /** Entries being handled right now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Create the group if needed and start reading, taking back and collecting idle consumers. */
  async start(): Promise<void> {
    await ensureGroup(this.ctx);
    if (this.closing) return;
    this.reads.start();
    this.timers = [
      setInterval(() => void this.leases.keepAlive(), this.leases.intervalMs),
      setInterval(() => void collectIdleConsumers(this.ctx), CONSUMER_GC_INTERVAL_MS),
    ];
    void collectIdleConsumers(this.ctx);
  }

  /**
   * Stop reading, let deliveries in flight finish within HERALD_SHUTDOWN_MS (their outcomes are
   * written and acknowledged), then abort the rest: those stay pending for another replica.
   * Safe to call twice: it returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const { config, blockingRedis, logger } = this.ctx;
    const deadline = Date.now() + config.HERALD_SHUTDOWN_MS;
    const readsDone = this.reads.stop();
    for (const timer of this.timers) clearInterval(timer);
    // Interrupts a blocked XREADGROUP; anything it had been handed stays pending for others.
    blockingRedis.disconnect();
    this.inFlight.wakeSlotWaiters();
    // With Redis unreachable a queued read may never settle: do not wait past the deadline.
    await Promise.race([readsDone, delay(Math.max(0, deadline - Date.now()))]);
    const drained = await this.inFlight.waitForIdle(deadline - Date.now());
    if (!drained) {
      logger.warn({ inFlight: this.inFlight.size }, 'shutdown time is up: aborting deliveries in flight');
      const reason = new Error('worker shutting down');
      this.stopping.abort(reason);
      this.deadlines.abortAll(reason);
      await this.inFlight.waitForIdle(1000);
    }
    this.settler.close();
  }
}
