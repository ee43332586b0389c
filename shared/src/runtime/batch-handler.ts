import type { UserRecord } from '../channel-driver.js';
import { passOf } from '../layout/passes.js';
import { decodeEntry } from '../stream-codec.js';
import { claimDeliverables } from './claims.js';
import type { RuntimeContext } from './context.js';
import type { Delivery } from './delivery.js';
import { filterEntry } from './entry-filter.js';
import type { InFlight } from './in-flight.js';
import type { Settler } from './settlement.js';
import { lookUpUsers } from './user-lookup.js';
import type { ClaimResult, Deliverable, WorkItem } from './work.js';

type Decoded = Omit<Deliverable, 'targets'>;

/**
 * Takes a batch of entries from read to send: decode (malformed ones are dead-lettered), look up
 * their users in one round trip, filter (skips are settled), claim their targets in one round
 * trip (or one entry at a time behind a driver's throttle), and hand each to delivery.
 */
export class BatchHandler {
  /** HERALD_TYPES as a set; undefined for `*` (every type). */
  private readonly types: Set<string> | undefined;

  constructor(
    private readonly ctx: RuntimeContext,
    private readonly inFlight: InFlight,
    private readonly settler: Settler,
    private readonly delivery: Delivery,
  ) {
    const types = ctx.config.HERALD_TYPES;
    this.types = types.includes('*') ? undefined : new Set(types);
  }

  handle(items: WorkItem[]): void {
    this.handleBatch(items).catch((err: unknown) => {
      // A Redis failure in the look-ups or claims: the entries stay pending and come back later.
      this.ctx.logger.warn({ err: (err as Error).message, entries: items.length }, 'batch left pending');
      for (const item of items) this.inFlight.leavePending(item);
    });
  }

  private async handleBatch(items: WorkItem[]): Promise<void> {
    const decoded = this.decode(items);
    if (decoded.length === 0) return;
    const { users, passes } = await lookUpUsers(
      this.ctx,
      decoded.map((d) => d.n.userId),
    );
    for (const { item } of decoded) item.pass = passOf(item.streamId, passes);
    const deliverable = this.filter(decoded, users);
    if (deliverable.length === 0) return;
    if (this.ctx.driver.throttle) {
      this.claimEachAfterThrottle(deliverable);
      return;
    }
    const claims = await claimDeliverables(this.ctx, deliverable);
    deliverable.forEach((d, i) => this.deliver(d, claims[i]!));
  }

  /** The entries that decode; the others are dead-lettered as malformed. */
  private decode(items: WorkItem[]): Decoded[] {
    const decoded: Decoded[] = [];
    for (const item of items) {
      const result = decodeEntry(item.fields);
      if (result.ok) {
        decoded.push({ item, n: result.notification });
        continue;
      }
      const { error } = result;
      this.ctx.logger.warn({ streamId: item.streamId, field: error.field }, 'malformed entry: dead-lettered');
      this.settler.settle(
        item,
        { id: error.id, userId: error.userId },
        {
          ...(error.id && error.userId ? { status: { state: 'dead', reason: 'malformed', error: error.message } } : {}),
          action: 'ack',
          deadLetter: { reason: 'malformed', error: error.message },
        },
      );
    }
    return decoded;
  }

  /** The entries this channel delivers, with their targets; skips are settled with their reason. */
  private filter(decoded: Decoded[], users: Map<string, UserRecord | Error>): Deliverable[] {
    const { channel, metrics, logger, driver } = this.ctx;
    const deliverable: Deliverable[] = [];
    for (const { item, n } of decoded) {
      const user = users.get(n.userId);
      if (user instanceof Error) {
        logger.warn({ streamId: item.streamId, err: user.message }, 'user look-up failed; entry left pending');
        this.inFlight.leavePending(item);
        continue;
      }
      const verdict = filterEntry(n, user!, { channel, types: this.types, driver, now: Date.now() });
      if ('skip' in verdict) {
        metrics.skipped.labels(channel, verdict.skip).inc();
        this.settler.settle(item, n, { status: { state: 'skipped', reason: verdict.skip }, action: 'ack' });
      } else {
        deliverable.push({ item, n, targets: verdict.targets });
      }
    }
    return deliverable;
  }

  /**
   * Rate-limited: each entry waits for its turn, then claims on its own. A claim taken before a
   * long wait could run out while waiting; one taken after it cannot.
   */
  private claimEachAfterThrottle(deliverable: Deliverable[]): void {
    const { driver, stopping, logger } = this.ctx;
    for (const d of deliverable) {
      void (async () => {
        for (let i = 0; i < d.targets.length; i++) await driver.throttle!(stopping);
        const [claims] = await claimDeliverables(this.ctx, [d]);
        this.deliver(d, claims!);
      })().catch((err: unknown) => {
        logger.warn({ err: (err as Error).message, streamId: d.item.streamId }, 'entry left pending');
        this.inFlight.leavePending(d.item);
      });
    }
  }

  private deliver(d: Deliverable, claims: ClaimResult[] | Error): void {
    if (claims instanceof Error) {
      this.ctx.logger.warn({ streamId: d.item.streamId, err: claims.message }, 'claim failed; entry left pending');
      this.inFlight.leavePending(d.item);
      return;
    }
    this.delivery.deliver(d, claims).catch((err: unknown) => {
      this.ctx.logger.error({ err, streamId: d.item.streamId }, 'delivery failed unexpectedly; entry left pending');
      this.inFlight.leavePending(d.item);
    });
  }
}
