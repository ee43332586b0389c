import type { ChainableCommander } from 'ioredis';
import { DeliveryError, type Target } from '../channel-driver.js';
import type { Notification } from '@herald/client';
import { redactContactData } from '../redact.js';
import { abortable } from './abortable.js';
import type { RuntimeContext } from './context.js';
import type { InFlight } from './in-flight.js';
import type { LeaseKeeper } from './lease-keeper.js';
import { deadSettlement, deliveryOutcome, settlementOf } from './outcome.js';
import type { SendDeadlines } from './send-deadlines.js';
import type { Settler } from './settlement.js';
import type { ClaimResult, Deliverable, Mark, SendOutcome, Settlement, WorkItem } from './work.js';

/** Sends an entry to the targets its claims leased to this attempt, and settles what came of it. */
export class Delivery {
  constructor(
    private readonly ctx: RuntimeContext,
    private readonly inFlight: InFlight,
    private readonly settler: Settler,
    private readonly leases: LeaseKeeper,
    private readonly deadlines: SendDeadlines,
  ) {}

  async deliver({ item, n, targets }: Deliverable, claims: ClaimResult[]): Promise<void> {
    const toSend = targets.filter((_, i) => claims[i] === 'claimed');
    const delivered = count(claims, 'delivered');
    const held = count(claims, 'held');
    if (toSend.length === 0) {
      this.settleUnsent(item, n, held);
      return;
    }
    if (this.settledBeforeSending(item, n, toSend, delivered)) return;

    const outcomes = await Promise.all(toSend.map((target) => this.sendOne(item, n, target)));
    if (this.ctx.stopping.aborted) {
      this.leaveToAnother(item, n, outcomes);
      return;
    }
    for (const o of outcomes) if ('unknown' in o) this.leases.settleWhenKnown(item, n, o.target, o.unknown);
    const { config } = this.ctx;
    const settlement = settlementOf(outcomes, {
      attempt: item.attempt,
      maxAttempts: config.HERALD_MAX_ATTEMPTS,
      delivered,
      held,
      sendTimeoutMs: config.HERALD_SEND_TIMEOUT_MS,
    });
    const extra = this.forgetGone(n, outcomes);
    if (extra) settlement.extra = extra;
    this.conclude(item, n, settlement);
  }

  /** No target was leased to this attempt. */
  private settleUnsent(item: WorkItem, n: Notification, held: number): void {
    if (held > 0) {
      // Another attempt holds a lease (another replica sending, or a send whose outcome is
      // not known yet): it settles the targets, and this entry comes back to see the result.
      this.inFlight.leavePending(item);
      return;
    }
    // Delivered before (a redelivery, a replay, a duplicate entry): acknowledge, send nothing.
    this.ctx.metrics.deliveries.labels(this.ctx.channel, 'duplicate').inc();
    this.settler.settle(item, n, { status: { state: 'delivered' }, action: 'ack' });
  }

  /** Settle without sending when it is too late to send: out of attempts, or expired. */
  private settledBeforeSending(item: WorkItem, n: Notification, toSend: Target[], delivered: number): boolean {
    const { config, metrics, channel } = this.ctx;
    if (item.attempt > config.HERALD_MAX_ATTEMPTS) {
      // Taken back more often than allowed without settling (a crash loop, say).
      const marks = toSend.map((t) => [t, 'failed'] as const);
      this.conclude(
        item,
        n,
        deadSettlement(marks, 'max_attempts', 'attempts exhausted before a send could settle', delivered > 0),
      );
      return true;
    }
    // Checked again at the last moment: an OTP must never go out late.
    if (n.expiresAt !== undefined && n.expiresAt <= Date.now()) {
      metrics.skipped.labels(channel, 'expired').inc();
      // An entry that reached one of its targets before stays delivered.
      const status =
        delivered > 0 ? ({ state: 'delivered' } as const) : ({ state: 'skipped', reason: 'expired' } as const);
      this.settler.settle(item, n, { status, marks: toSend.map((t) => [t, 'release'] as const), action: 'ack' });
      return true;
    }
    return false;
  }

  /**
   * Shutdown cut sends short. Mark what is known for sure, keep the other leases (those sends
   * may still go through), and leave the entry pending for another replica.
   */
  private leaveToAnother(item: WorkItem, n: Notification, outcomes: SendOutcome[]): void {
    const known: Mark[] = [];
    for (const o of outcomes) if ('result' in o) known.push([o.target, 'delivered']);
    if (known.length) void this.settler.write(item, n, { marks: known, action: 'none' }).catch(() => undefined);
    this.inFlight.leavePending(item);
  }

  /** Count, hold back for a Retry-After, and settle. */
  private conclude(item: WorkItem, n: Notification, settlement: Settlement): void {
    if (settlement.retryAfterMs) this.inFlight.holdBack(item.streamId, settlement.retryAfterMs);
    this.ctx.metrics.deliveries.labels(this.ctx.channel, deliveryOutcome(settlement)).inc();
    this.settler.settle(item, n, settlement);
  }

  /** Best-effort removal of the targets the provider says are gone, where the driver can forget one. */
  private forgetGone(n: Notification, outcomes: SendOutcome[]): ((pipeline: ChainableCommander) => void) | undefined {
    const { driver } = this.ctx;
    if (!driver.forgetTarget || !outcomes.some(isGone)) return undefined;
    return (pipeline) => {
      for (const o of outcomes) if (isGone(o)) driver.forgetTarget!(pipeline, n, o.target);
    };
  }

  private async sendOne(item: WorkItem, n: Notification, target: Target): Promise<SendOutcome> {
    const { driver, metrics, channel, logger, stopping } = this.ctx;
    if (stopping.aborted) return { target, error: new DeliveryError('transient', 'the worker is stopping') };
    // Aborted at its time-out, or at shutdown with the rest (see Consumer's shutdown).
    const { signal, done } = this.deadlines.start();
    const started = performance.now();
    const send = Promise.resolve().then(() => driver.send(n, target, signal));
    try {
      // Raced against the signal too, in case a transport does not honour it.
      const result = await abortable(() => send, signal, `${channel} send`);
      metrics.sendDuration.labels(channel, 'success').observe((performance.now() - started) / 1000);
      return { target, result };
    } catch (err) {
      metrics.sendDuration.labels(channel, 'failure').observe((performance.now() - started) / 1000);
      if (signal.aborted && !(err instanceof DeliveryError && err.cause !== signal.reason)) {
        // Gave up waiting, but the provider may still take it: the outcome is unknown.
        logger.warn(
          { streamId: item.streamId, id: n.id, attempt: item.attempt },
          'send timed out; its outcome is not known yet',
        );
        return { target, unknown: send };
      }
      const error = driver.classify(err);
      const safe = new DeliveryError(
        error.kind,
        redactContactData(error.message, [target.address]),
        error.retryAfterMs,
      );
      logger.warn(
        { streamId: item.streamId, id: n.id, kind: safe.kind, error: safe.message, attempt: item.attempt },
        'send failed',
      );
      return { target, error: safe };
    } finally {
      done();
    }
  }
}

function count(claims: ClaimResult[], result: ClaimResult): number {
  let found = 0;
  for (const claim of claims) if (claim === result) found++;
  return found;
}

function isGone(o: SendOutcome): o is SendOutcome & { error: DeliveryError } {
  return 'error' in o && o.error.kind === 'gone';
}
