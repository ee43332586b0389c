import { GROUPS, type Channel } from './glossary.js';

/**
 * Every Redis key Herald uses, in one place.
 *
 * Keys that a script or transaction touches together with the stream carry the stream's name as a
 * hash tag: `herald:{user:notifications}:n:<id>` lands in the same Redis Cluster slot as
 * `user:notifications`. A user's keys share a tag of their own (`{u:<userId>}`), so deleting a
 * user is one transaction on one slot.
 */
export interface Keys {
  /** The stream of notifications. */
  readonly stream: string;
  /** The dead-letter stream: `<stream>:dlq`. */
  readonly deadLetters: string;
  /** One hash per notification: idempotency record, per-channel status and claims; expires. */
  notification(id: string): string;
  /** A user's contact data and preferences (hash). */
  user(userId: string): string;
  /** A user's push subscriptions (hash: endpoint → subscription JSON). */
  pushSubscriptions(userId: string): string;
  /** Delivery passes of a channel (hash: pass number → first stream id it applies to). */
  passes(channel: Channel): string;
  /** Dead letters per channel (hash: channel → count), kept with the dead-letter stream. */
  deadLetterCounts: string;
  /** The consumer group of a channel. */
  group(channel: Channel): string;
  /** A caller's HTTP request budget (HERALD_RATE_LIMIT): `key:<key id>` or `ip:<address>`; expires. */
  requestBudget(caller: string): string;
  /** A dashboard session (string: the admin keys' fingerprint and the signed-in key's name), by the SHA-256 of its id; expires. */
  dashboardSession(idDigest: string): string;
  /** Notification records a caller holds (sorted set: id → when its record expires, ms), for HERALD_MAX_RECORDS_PER_KEY. */
  heldRecords(caller: string): string;
}


export function makeKeys(config: { HERALD_STREAM: string; HERALD_KEY_PREFIX: string }): Keys {
  const stream = config.HERALD_STREAM;
  const prefix = config.HERALD_KEY_PREFIX;
  return Object.freeze({
    stream,
    deadLetters: `${stream}:dlq`,
    notification: (id: string) => `${prefix}{${stream}}:n:${id}`,
    user: (userId: string) => `${prefix}{u:${userId}}:user`,
    pushSubscriptions: (userId: string) => `${prefix}{u:${userId}}:push`,
    passes: (channel: Channel) => `${prefix}{${stream}}:passes:${channel}`,
    // Tagged with the dead-letter stream's whole name, so it lands in that stream's slot.
    deadLetterCounts: `${prefix}{${stream}:dlq}:counts`,
    group: (channel: Channel) => GROUPS[channel],
    requestBudget: (caller: string) => `${prefix}rate:req:${caller}`,
    dashboardSession: (idDigest: string) => `${prefix}session:${idDigest}`,
    heldRecords: (caller: string) => `${prefix}held:${caller}`,
  });
}
