import type { ChainableCommander } from 'ioredis';
import type { Channel, Notification } from '@herald/client';
import type { StoredPushSubscription } from '@herald/client';
import type { Preferences } from '@herald/client';

/**
 * What a channel's service adds to the shared consumer runtime: where a notification goes
 * (its targets), how to send to one target, and what a provider's error means. Everything
 * else (reading, filtering, claims, retries, status, dead letters, metrics) is the runtime's.
 */

/** A user as the runtime looked it up for one batch. */
export interface UserRecord {
  email?: string;
  phone?: string;
  locale?: string;
  preferences?: Preferences;
  /** The user's push subscriptions: filled by the push driver's `userLookup`, absent elsewhere. */
  pushSubscriptions?: StoredPushSubscription[];
}

/**
 * A driver's own reads of each user, made in the batch's one look-up round trip: the runtime
 * calls `queue` once per user of a batch, right after queuing that user's record, and `apply`
 * with the reply of what it queued once the round trip is back. `queue` adds exactly one command.
 * A failed read leaves the user's entries pending, as a failed user look-up does.
 */
export interface UserLookup {
  queue(pipeline: ChainableCommander, userId: string): void;
  /** Fill in `user` from the reply of the command `queue` added (e.g. an HGETALL's hash). */
  apply(user: UserRecord, reply: unknown): void;
}

/** One destination of a notification on a channel: an address, a phone number, a subscription. */
export interface Target {
  /**
   * Stable name of this destination within the notification, used for its delivery claim:
   * `email`, `sms`, or `push:<hash of the endpoint>`. Each target is claimed and marked on its own.
   */
  key: string;
  /** The email address, the phone number, or the push endpoint. */
  address: string;
  /** For push: the subscription to encrypt for. */
  subscription?: StoredPushSubscription;
}

/** What a provider answered when it accepted a message. */
export interface SendResult {
  /** The provider's id (SMTP Message-ID, Twilio SID, push Location), shown in the status. */
  providerId?: string;
}

/**
 * How a failed send counts:
 * - `transient`: retry later (SMTP 4xx, Twilio 429/5xx, push 429/5xx, network errors, time-outs);
 * - `permanent`: retrying cannot help (SMTP 5xx, Twilio 4xx, push 4xx): dead-letter at once;
 * - `gone`: the destination no longer exists (push 404/410): remove it, do not fail the others.
 */
export type FailureKind = 'transient' | 'permanent' | 'gone';

/**
 * A classified delivery failure. Drivers throw it from `send` (or `classify` builds it from
 * whatever the SDK threw); the runtime branches on `kind`, never on message text.
 */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** When the provider said when to come back (Retry-After), in ms from now. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ChannelDriver {
  readonly channel: Channel;
  /** Per-user data the driver needs for `targets` besides the user's record (push: subscriptions). */
  readonly userLookup?: UserLookup;
  /** The destinations of `notification` on this channel; none means skipped with `no_recipient`. */
  targets(notification: Notification, user: UserRecord): Target[];
  /**
   * Send to one target. The runtime stops waiting when `signal` aborts (HERALD_SEND_TIMEOUT_MS,
   * or shutdown), but keeps the target's claim until this promise settles, and records what it
   * settles with: so it must settle with the provider's real answer, not just reject on abort.
   * Set the SDK's own time-out to `transportTimeoutMs(HERALD_SEND_TIMEOUT_MS)` so that it does
   * settle, and with the answer rather than with a time-out of its own.
   */
  send(notification: Notification, target: Target, signal: AbortSignal): Promise<SendResult>;
  /**
   * Wait until the provider may be called once more (a rate limit such as HERALD_RATE_PER_S).
   * The runtime calls it once per target before it claims the delivery, so the wait counts
   * neither against the send time-out nor against the claim's lease. Rejects when `signal`
   * aborts (shutdown).
   */
  throttle?(signal: AbortSignal): Promise<void>;
  /** Turn anything `send` threw into a DeliveryError (a DeliveryError passes through). */
  classify(err: unknown): DeliveryError;
  /**
   * Queue the removal of a target that a send found `gone` (push: the subscription). Best
   * effort: it runs after the entry's outcome is written, and a failure is only logged.
   */
  forgetTarget?(pipeline: ChainableCommander, notification: Notification, target: Target): void;
  /** Release the transport (SMTP pool, agents). */
  close?(): Promise<void>;
}

/**
 * How long a driver's SDK waits for the provider: twice HERALD_SEND_TIMEOUT_MS. The runtime
 * stops waiting after HERALD_SEND_TIMEOUT_MS but holds the target's claim until the send
 * settles, and records that outcome: delivered, or released for a retry. An SDK that gave up at
 * the same moment as the runtime would settle nearly every slow send with its own time-out, a
 * "failure" the provider may well have accepted, and the retry would send it again (the chaos
 * suite's crash scenario saw 300 SMS of 20000 go out twice that way on a busy machine).
 */
export function transportTimeoutMs(sendTimeoutMs: number): number {
  return 2 * sendTimeoutMs;
}

/** The same driver with a `send` that succeeds without calling the provider (HERALD_DRY_RUN). */
export function dryRun(driver: ChannelDriver): ChannelDriver {
  return {
    channel: driver.channel,
    ...(driver.userLookup ? { userLookup: driver.userLookup } : {}),
    targets: (n, user) => driver.targets(n, user),
    // A dry run sends nothing, so a provider's rate limit has nothing to protect.
    classify: (err) => driver.classify(err),
    send: async () => ({ providerId: 'dry-run' }),
    ...(driver.forgetTarget
      ? { forgetTarget: (pipeline, n, target) => driver.forgetTarget!(pipeline, n, target) }
      : {}),
    close: async () => driver.close?.(),
  };
}
