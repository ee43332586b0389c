import type { Keys, StoredPushSubscription, UserLookup } from '@herald/shared';

/** What a user without subscriptions has (shared: a user record read elsewhere has none). */
export const NO_SUBSCRIPTIONS: readonly StoredPushSubscription[] = [];

/**
 * The push driver's per-user read: the user's subscriptions (a hash, endpoint → JSON), in the
 * runtime's one look-up round trip per batch, decoded into `user.pushSubscriptions`.
 */
export function subscriptionLookup(keys: Keys): UserLookup {
  return {
    queue: (pipeline, userId) => void pipeline.hgetall(keys.pushSubscriptions(userId)),
    apply: (user, reply) => {
      user.pushSubscriptions = decodeSubscriptions(reply);
    },
  };
}

/** A user's stored subscriptions; one that does not parse is passed over. */
function decodeSubscriptions(hash: unknown): StoredPushSubscription[] {
  const subscriptions: StoredPushSubscription[] = [];
  for (const text of Object.values((hash ?? {}) as Record<string, string>)) {
    let subscription: StoredPushSubscription | undefined;
    try {
      subscription = JSON.parse(text) as StoredPushSubscription;
    } catch {
      continue;
    }
    if (subscription?.endpoint && subscription.keys) subscriptions.push(subscription);
  }
  return subscriptions;
}
