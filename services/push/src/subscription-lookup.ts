import { decodePushSubscriptions, type Keys, type UserLookup } from '@herald/shared';

/**
 * The push driver's per-user read: the user's subscriptions, in the runtime's one look-up round
 * trip per batch, decoded by the layout's codec into `user.pushSubscriptions`.
 */
export function subscriptionLookup(keys: Keys): UserLookup {
  return {
    queue: (pipeline, userId) => void pipeline.hgetall(keys.pushSubscriptions(userId)),
    apply: (user, reply) => {
      user.pushSubscriptions = decodePushSubscriptions(reply as Record<string, string> | null);
    },
  };
}
