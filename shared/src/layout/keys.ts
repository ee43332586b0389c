import { GROUPS, type Channel } from '@herald/client';

/**
 * Every Redis key Herald uses, in one place: no other code spells a key.
 *
 * Every companion key of a stream (dead letters, their counts, notification records, passes,
 * rate counters) carries the stream's name as a hash tag: `{user:notifications}:dlq` and
 * `herald:{user:notifications}:n:<id>` land in the same Redis Cluster slot as
 * `user:notifications`, so a script may touch them together. A user's keys share a tag of their
 * own (`{u:<userId>}`), so deleting a user is one transaction on one slot.
 */
export interface Keys {
  /** The stream of notifications. */
  readonly stream: string;
  /** The dead-letter stream: `{<stream>}:dlq`. */
  readonly deadLetters: string;
  /** Where dead letters lived before they shared the stream's slot: `<stream>:dlq` (see dead-letter-migration.ts). */
  readonly legacyDeadLetters: string;
  /** Where the dead-letter counts lived before: `<prefix>{<stream>:dlq}:counts`. */
  readonly legacyDeadLetterCounts: string;
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
  /** A channel's send budget for this second, shared by its replicas (HERALD_RATE_PER_S; hash). */
  sendRate(channel: Channel): string;
  /** The consumer group of a channel. */
  group(channel: Channel): string;
  /**
   * A caller's HTTP request budget (HERALD_RATE_LIMIT): `key:<key id>` or `ip:<address>`; expires.
   * Every budget shares one hash tag: the requests of one event-loop turn are counted by one
   * script call, whatever their callers.
   */
  requestBudget(caller: string): string;
  /**
   * A dashboard session (string: the admin keys' fingerprint and the signed-in key's name), by the
   * SHA-256 of its id; expires.
   */
  dashboardSession(idDigest: string): string;
  /**
   * Notification records a caller holds (sorted set: id → when its record expires, ms), for
   * HERALD_MAX_RECORDS_PER_KEY.
   */
  heldRecords(caller: string): string;
}

export function makeKeys(config: { HERALD_STREAM: string; HERALD_KEY_PREFIX: string }): Keys {
  const stream = config.HERALD_STREAM;
  const prefix = config.HERALD_KEY_PREFIX;
  return Object.freeze({
    stream,
    deadLetters: `{${stream}}:dlq`,
    legacyDeadLetters: `${stream}:dlq`,
    legacyDeadLetterCounts: `${prefix}{${stream}:dlq}:counts`,
    notification: (id: string) => `${prefix}{${stream}}:n:${id}`,
    user: (userId: string) => `${prefix}{u:${userId}}:user`,
    pushSubscriptions: (userId: string) => `${prefix}{u:${userId}}:push`,
    passes: (channel: Channel) => `${prefix}{${stream}}:passes:${channel}`,
    deadLetterCounts: `${prefix}{${stream}}:dlq:counts`,
    sendRate: (channel: Channel) => `${prefix}{${stream}}:rate:${channel}`,
    group: (channel: Channel) => GROUPS[channel],
    requestBudget: (caller: string) => `${prefix}{rate:req}:${caller}`,
    dashboardSession: (idDigest: string) => `${prefix}session:${idDigest}`,
    heldRecords: (caller: string) => `${prefix}held:${caller}`,
  });
}
