import { describe, expect, it } from 'vitest';
import type { StoredPushSubscription } from '@herald/shared';
import { usePublisher } from '../helpers/publisher.js';
import { browserKeys, storeSubscriptions, subscribe as subscribeAs } from '../helpers/push-subscriptions.js';

/**
 * HERALD_MAX_PUSH_SUBSCRIPTIONS (issue 12): one publish opens a connection per subscription, so
 * a user holds at most that many (default 20); registering one more replaces the oldest.
 */
const ctx = usePublisher();

const keys = browserKeys();
const subscribe = (endpoint: string, userId = 'capped') => subscribeAs(ctx.pub, userId, endpoint, keys);

async function endpointsOf(userId = 'capped'): Promise<string[]> {
  return (await ctx.pub.admin.hkeys(ctx.pub.keys.pushSubscriptions(userId))).sort();
}

/** `count` subscriptions registered `count` to 1 minutes ago, oldest first: `https://push.example.com/old-<i>`. */
function olderSubscriptions(count: number): StoredPushSubscription[] {
  return Array.from({ length: count }, (_, i) => ({
    endpoint: `https://push.example.com/old-${String(i).padStart(3, '0')}`,
    keys,
    createdAt: Date.now() - (count - i) * 60_000,
  }));
}

describe('HERALD_MAX_PUSH_SUBSCRIPTIONS', () => {
  it('keeps N: registering one more replaces the oldest, and the new one is kept', async () => {
    await ctx.restart({ HERALD_MAX_PUSH_SUBSCRIPTIONS: '3' });
    const older = olderSubscriptions(3);
    await storeSubscriptions(ctx.pub, 'capped', older);
    const res = await subscribe('https://push.example.com/new');
    expect(res.statusCode).toBe(201);
    expect(await endpointsOf()).toEqual(
      [older[1]!.endpoint, older[2]!.endpoint, 'https://push.example.com/new'].sort(),
    );
  });

  it('counts a known endpoint registered again once: nothing is dropped', async () => {
    const older = olderSubscriptions(20);
    await storeSubscriptions(ctx.pub, 'capped', older);
    const res = await subscribe(older[0]!.endpoint);
    expect(res.statusCode).toBe(200);
    expect(await endpointsOf()).toEqual(older.map((s) => s.endpoint));
  });

  it('brings a user stored above the cap down to it, oldest first, on the next registration', async () => {
    const older = olderSubscriptions(25);
    await storeSubscriptions(ctx.pub, 'capped', older);
    expect((await subscribe('https://push.example.com/new')).statusCode).toBe(201);
    expect(await endpointsOf()).toEqual(
      [...older.slice(6).map((s) => s.endpoint), 'https://push.example.com/new'].sort(),
    );
  });

  it('leaves exactly N after 50 concurrent registrations of distinct endpoints, and touches no other user', async () => {
    expect((await subscribe('https://push.example.com/other', 'other')).statusCode).toBe(201);
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => subscribe(`https://push.example.com/c-${i}`)),
    );
    expect(answers.map((a) => a.statusCode)).toEqual(new Array(50).fill(201));
    expect(await endpointsOf()).toHaveLength(20);
    expect(await endpointsOf('other')).toEqual(['https://push.example.com/other']);
  });

  it('keeps every stored value whole, a corrupt one counting as the oldest', async () => {
    await ctx.restart({ HERALD_MAX_PUSH_SUBSCRIPTIONS: '2' });
    const [kept] = olderSubscriptions(1);
    await storeSubscriptions(ctx.pub, 'capped', [kept!]);
    await ctx.pub.admin.hset(ctx.pub.keys.pushSubscriptions('capped'), 'https://push.example.com/corrupt', '{not json');
    expect((await subscribe('https://push.example.com/new')).statusCode).toBe(201);
    expect(await endpointsOf()).toEqual(['https://push.example.com/new', kept!.endpoint]);
    const stored = await ctx.pub.admin.hget(ctx.pub.keys.pushSubscriptions('capped'), kept!.endpoint);
    expect(JSON.parse(stored!)).toEqual(kept);
  });
});
