/**
 * Herald's terms, and the types shared by every service.
 *
 * - notification: one message for one user, with a type (`otp`, `order.shipped`), a payload and,
 *   optionally, the channels it asks for, explicit recipients and an expiry.
 * - entry: a notification as it sits in the stream `user:notifications` (see stream-codec.ts for
 *   its fields). Anyone may append entries; the publisher is one producer among possibly several.
 * - channel: `email`, `sms` or `push`: one way to reach a person, one service, one consumer group.
 * - group: the consumer group of a channel (`email_notifier_group`, ...), created from `0`.
 * - consumer: one replica of a channel's service, reading with its own name within the group.
 * - target: one destination of a notification on a channel (an email address, a phone number, a
 *   push subscription), named by a key that is stable within the notification.
 * - claim: a per (channel, notification, target) field of the notification's record, taken
 *   before sending (a lease) and marked after, so a redelivered entry is not sent twice.
 * - lease: a claim held by one attempt while it sends, until a time longer than any send can
 *   take; renewed while a send's outcome is unknown, so no other attempt sends meanwhile.
 * - mark: what an attempt leaves in a target's claim when it settles: delivered, failed for
 *   good, or released (its lease dropped, so a retry may claim the target again).
 * - attempt: one try at delivering an entry on a channel; counted by the group's delivery counter.
 * - settle: write an attempt's outcome in one atomic step: its marks, the channel's status, a
 *   dead letter if it failed for good, and the acknowledgement (or a retry's fresh backoff).
 * - pass: one round of delivery of a notification on a channel; pass 0 first. A replay with
 *   resend or a redrive starts the next, and claims of earlier passes no longer hold.
 * - dead letter: an entry a channel gave up on, copied to `{<stream>}:dlq` with the reason.
 */
export const CHANNELS = ['email', 'sms', 'push'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Fixed group names, so the publisher and operators know them. */
export const GROUPS: Readonly<Record<Channel, string>> = Object.freeze({
  email: 'email_notifier_group',
  sms: 'sms_notifier_group',
  push: 'push_notifier_group',
});

/** Default metrics ports of the workers, one per channel, so one replica of each fits on a host. */
export const DEFAULT_METRICS_PORTS: Readonly<Record<Channel, number>> = { email: 9101, sms: 9102, push: 9103 };

/** States a channel's delivery goes through; it only ever moves forward. */
export const CHANNEL_STATES = ['pending', 'retrying', 'delivered', 'skipped', 'dead'] as const;
export type ChannelState = (typeof CHANNEL_STATES)[number];

export const SKIP_REASONS = ['type_filtered', 'not_requested', 'opted_out', 'no_recipient', 'expired'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** A notification's content. */
export interface Payload {
  title?: string;
  body: string;
  url?: string;
  data?: Record<string, unknown>;
}

/** Explicit recipients; they override the user's stored contact data. */
export interface Recipients {
  email?: string;
  phone?: string;
}

/** A notification as it travels through the stream (wire format version 1). */
export interface Notification {
  v: 1;
  id: string;
  userId: string;
  type: string;
  payload: Payload;
  channels?: Channel[];
  to?: Recipients;
  /** Milliseconds since the epoch after which the notification must not be sent. */
  expiresAt?: number;
  /** Milliseconds since the epoch at publish. */
  ts: number;
}
