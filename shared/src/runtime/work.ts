import type { ChainableCommander } from 'ioredis';
import type { DeliveryError, SendResult, Target } from '../channel-driver.js';
import type { Notification } from '@herald/client';
import type { ChannelStatus } from '../layout/notification-record.js';

/**
 * The runtime's shared types. They sit below every piece of the runtime, so each piece imports
 * downward and none imports back from the consumer that wires them together.
 */

/** An entry this replica is handling: read (attempt 1) or taken back from the pending list. */
export interface WorkItem {
  streamId: string;
  fields: string[];
  attempt: number;
  /** Names this attempt in delivery claims: a duplicate entry or a later attempt is someone else. */
  token: string;
  /** Its outcome is queued for writing; the write frees its slot. */
  settling: boolean;
  /** The delivery pass it belongs to on this channel (see passes.ts). */
  pass: number;
}

/** A decoded entry that goes out, and where to: the targets the driver named for it. */
export interface Deliverable {
  item: WorkItem;
  n: Notification;
  targets: Target[];
}

/**
 * What claiming one target answered: `claimed` (leased to this attempt: send), `delivered`
 * (delivered before in this pass: never send again) or `held` (another attempt holds a lease).
 */
export type ClaimResult = 'claimed' | 'delivered' | 'held';

/** How one send ended. */
export type SendOutcome =
  | { target: Target; result: SendResult }
  | { target: Target; error: DeliveryError }
  /** No answer in time: the provider may still accept it, so its lease is kept. */
  | { target: Target; unknown: Promise<SendResult> };

/**
 * What a settle writes into a target's claim: `delivered`, `failed` (for good in this pass), or
 * `release` (drop this attempt's own lease, so a retry may claim the target again).
 */
export type MarkKind = 'delivered' | 'failed' | 'release';
export type Mark = readonly [Target, MarkKind];

export type DeadLetterReason = 'malformed' | 'permanent' | 'gone' | 'max_attempts';

/** What a settle knows of an entry's notification: all of it, or what a malformed entry still names. */
export type NotificationRef = Partial<Pick<Notification, 'id' | 'userId' | 'type' | 'ts'>>;

/** An entry's outcome, written in one atomic step (see settlement.ts). */
export interface Settlement {
  status?: Omit<ChannelStatus, 'attempts' | 'updatedAt'>;
  marks?: readonly Mark[];
  /** `ack` acknowledges; `retry` leaves it pending, its backoff counted from now; `none` neither. */
  action: 'ack' | 'retry' | 'none';
  deadLetter?: { reason: DeadLetterReason; error: string };
  /** A provider's Retry-After, in ms from now: the entry is not taken back sooner. */
  retryAfterMs?: number;
  /** Best-effort commands after the settle (forgetting targets a provider says are gone). */
  extra?: (pipeline: ChainableCommander) => void;
}
