import type { StandInSubscription } from '@herald/stand-ins';
import type { TestStack } from '../helpers/stack.js';

/**
 * `count` users made through the publisher's API, each with an address, a number and one push
 * subscription on the stand-in, so every notification for them goes out on all three channels.
 */
export async function addUsers(
  stack: TestStack,
  count: number,
  prefix = 'chaos-user',
): Promise<{ userIds: string[]; subscriptions: StandInSubscription[] }> {
  const userIds: string[] = [];
  const subscriptions: StandInSubscription[] = [];
  for (let i = 0; i < count; i++) {
    const userId = `${prefix}-${i}`;
    const put = await stack.pub.app.inject({
      method: 'PUT',
      url: `/v1/users/${userId}`,
      payload: { email: `${userId}@example.com`, phone: `+1415${String(6_000_000 + i).padStart(7, '0')}` },
    });
    if (put.statusCode !== 200) throw new Error(`PUT user answered ${put.statusCode}: ${put.body}`);
    const subscription = stack.push.createSubscription();
    const sub = await stack.pub.app.inject({
      method: 'POST',
      url: `/v1/users/${userId}/push-subscriptions`,
      payload: subscription,
    });
    if (sub.statusCode !== 201) throw new Error(`POST push subscription answered ${sub.statusCode}: ${sub.body}`);
    userIds.push(userId);
    subscriptions.push(subscription);
  }
  return { userIds, subscriptions };
}
