import type { SendResult, Target } from '../channel-driver.js';
import type { Notification } from '@herald/client';
import { redactContactData } from '../redact.js';
import type { TargetClaim } from '../scripts/scripts.js';
import { claimTargets } from './claims.js';
import type { RuntimeContext } from './context.js';
import type { InFlight } from './in-flight.js';
import type { Settler } from './settlement.js';
import type { WorkItem } from './work.js';

/**
 * Keeps what this replica holds from running out: the entries in flight (so no other replica
 * takes them back) and the leases of sends whose outcome is not known yet (so no other attempt
 * sends to those targets meanwhile).
 */
export class LeaseKeeper {
  /**
   * Sends that timed out but may still go through: their leases are renewed until the provider
   * answers, so no other attempt sends meanwhile (by record, target and token).
   */
  private readonly unknownOutcomes = new Map<string, TargetClaim>();

  constructor(
    private readonly ctx: RuntimeContext,
    private readonly inFlight: InFlight,
    private readonly settler: Settler,
  ) {}

  /** How often keepAlive should run: well within a lease. */
  get intervalMs(): number {
    return Math.max(500, Math.floor(this.ctx.leaseMs / 3));
  }

  /**
   * Keep the entries this replica is working on from looking abandoned: XCLAIM ... JUSTID to
   * itself resets their idle time without counting a delivery, so other replicas do not take
   * back an entry that waits for a rate limit or a slow provider. Also renews the leases of
   * sends whose outcome is not known yet.
   */
  async keepAlive(): Promise<void> {
    const ids = this.inFlight.streamIds();
    if (ids.length === 0 && this.unknownOutcomes.size === 0) return;
    const { redis, keys, logger, group, consumerName } = this.ctx;
    const renewals: Promise<unknown>[] = [];
    if (ids.length) renewals.push(redis.xclaim(keys.stream, group, consumerName, 0, ...ids, 'JUSTID'));
    // The same token claims its own lease again, which pushes its end further out.
    if (this.unknownOutcomes.size) renewals.push(claimTargets(this.ctx, [...this.unknownOutcomes.values()]));
    for (const result of await Promise.allSettled(renewals)) {
      if (result.status === 'rejected')
        logger.warn({ err: (result.reason as Error).message }, 'could not refresh entries in flight');
    }
  }

  /**
   * A send that timed out keeps its lease; when the provider finally answers, mark the target
   * delivered (a later attempt then acknowledges the entry without sending) or release it.
   */
  settleWhenKnown(item: WorkItem, n: Notification, target: Target, late: Promise<SendResult>): void {
    const key = `${n.id}\n${target.key}\n${item.token}`;
    this.unknownOutcomes.set(key, { id: n.id, token: item.token, pass: item.pass, targets: [target.key] });
    const { logger } = this.ctx;
    late
      .then(
        (result) => {
          logger.info({ streamId: item.streamId, id: n.id }, 'a send that timed out went through after all');
          return this.settler.write(item, n, {
            status: { state: 'delivered', ...(result.providerId ? { providerId: result.providerId } : {}) },
            marks: [[target, 'delivered']],
            action: 'none',
          });
        },
        (err: unknown) => {
          logger.info(
            {
              streamId: item.streamId,
              id: n.id,
              err: redactContactData(String((err as Error)?.message), [target.address]),
            },
            'a send that timed out failed after all',
          );
          return this.settler.write(item, n, { marks: [[target, 'release']], action: 'none' });
        },
      )
      .catch(() => undefined)
      .finally(() => this.unknownOutcomes.delete(key));
  }
}
