import type { Redis } from 'ioredis';
import { encodePushSubscription, encodeUser, type Keys } from '@herald/shared';

/**
 * `count` users `<prefix>-<n>`, each with an email, a phone and one push subscription, written
 * straight into Redis as the publisher's user routes would: a fixture for load runs (the
 * benchmark, the chaos suite's load scenario), where the user routes are not the subject.
 */
export async function seedUsers(redis: Redis, keys: Keys, count: number, prefix: string): Promise<void> {
  const pipeline = redis.pipeline();
  for (let u = 0; u < count; u++) {
    const userId = `${prefix}-${u}`;
    pipeline.hset(
      keys.user(userId),
      encodeUser({ email: `${prefix}${u}@example.com`, phone: `+1415555${String(u).padStart(4, '0')}`, updatedAt: 0 }),
    );
    const { field, value } = encodePushSubscription({
      endpoint: `https://push.example.com/${u}`,
      keys: { p256dh: 'x', auth: 'y' },
      createdAt: 0,
    });
    pipeline.hset(keys.pushSubscriptions(userId), field, value);
  }
  await pipeline.exec();
}
