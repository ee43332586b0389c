import type { Redis } from 'ioredis';
import type { Keys } from '@herald/shared';

/**
 * `count` users `<prefix>-<n>`, each with an email, a phone and one push subscription, written
 * straight into Redis as the publisher's user routes would: a fixture for load runs (the
 * benchmark, the chaos suite's load scenario), where the user routes are not the subject.
 */
export async function seedUsers(redis: Redis, keys: Keys, count: number, prefix: string): Promise<void> {
  const pipeline = redis.pipeline();
  for (let u = 0; u < count; u++) {
    const userId = `${prefix}-${u}`;
    pipeline.hset(keys.user(userId), 'email', `${prefix}${u}@example.com`, 'phone', `+1415555${String(u).padStart(4, '0')}`, 'updatedAt', '0');
    const endpoint = `https://push.example.com/${u}`;
    pipeline.hset(keys.pushSubscriptions(userId), endpoint, JSON.stringify({ endpoint, keys: { p256dh: 'x', auth: 'y' }, createdAt: 0 }));
  }
  await pipeline.exec();
}
