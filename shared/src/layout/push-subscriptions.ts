import type { StoredPushSubscription } from '@herald/client';
import { safeJson } from './user-record.js';

/**
 * A user's push subscriptions (`keys.pushSubscriptions(userId)`): a hash of endpoint → the
 * stored subscription as JSON (`endpoint`, `keys`, `createdAt`), written by the subscription
 * routes and read by the push worker and the user routes, both through this codec.
 */
/** Keys of a stored subscription's JSON that a script reads. */
export const PUSH_SUBSCRIPTION_KEYS = Object.freeze({ createdAt: 'createdAt' });

export function encodePushSubscription(subscription: StoredPushSubscription): { field: string; value: string } {
  return { field: pushSubscriptionField(subscription.endpoint), value: JSON.stringify(subscription) };
}

/** The hash field of the subscription with this endpoint. */
export function pushSubscriptionField(endpoint: string): string {
  return endpoint;
}

/**
 * The stored subscriptions of a hash (HGETALL). One that does not decode is left out (a worker
 * sends to the others), or with `strict` throws: an API that shows them must not hide a corrupt one.
 */
export function decodePushSubscriptions(
  hash: Record<string, string> | null | undefined,
  strict = false,
): StoredPushSubscription[] {
  if (strict) return Object.values(hash ?? {}).map((text) => JSON.parse(text) as StoredPushSubscription);
  const subscriptions: StoredPushSubscription[] = [];
  for (const text of Object.values(hash ?? {})) {
    const s = safeJson(text) as Partial<StoredPushSubscription> | undefined;
    // Keys that do not hold up fail at the send, as a permanent failure the status shows.
    if (s && typeof s.endpoint === 'string' && s.endpoint && s.keys) subscriptions.push(s as StoredPushSubscription);
  }
  return subscriptions;
}
