import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from '../helpers/stack.js';
import { publishPushAndSettle, storeSubscriptions } from '../helpers/push-subscriptions.js';

/**
 * HERALD_MAX_PUSH_SUBSCRIPTIONS on the worker's side (issue 12): a user stored with more
 * subscriptions than the cap (before it existed) gets a publish sent to the newest N only, so
 * one publish opens at most N connections.
 */
let stack: TestStack;

beforeAll(async () => {
  stack = await startStack();
  await stack.spawnWorker('push');
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

describe('a push worker and a user with more subscriptions than HERALD_MAX_PUSH_SUBSCRIPTIONS', () => {
  it('sends to the newest 20 of 25 (the default cap), and the channel is delivered', async () => {
    // Registered a minute apart, the newest last; stored in an order of their own, so that
    // neither the hash's order nor the order of writing decides.
    const subscriptions = Array.from({ length: 25 }, (_, i) => ({
      ...stack.push.createSubscription(),
      createdAt: Date.now() - (25 - i) * 60_000,
    }));
    const shuffled = subscriptions
      .map((s, i) => ({ s, k: (i * 7) % 25 }))
      .sort((a, b) => a.k - b.k)
      .map(({ s }) => s);
    await storeSubscriptions(
      stack.pub,
      'many',
      shuffled.map(({ endpoint, keys, createdAt }) => ({ endpoint, keys, createdAt })),
    );

    const push = await publishPushAndSettle(stack.pub, { userId: 'many' });
    expect(push.state).toBe('delivered');
    const received = stack.push.received.map((p) => p.endpoint).sort();
    expect(received).toEqual(
      subscriptions
        .slice(5)
        .map((s) => s.endpoint)
        .sort(),
    );
  });
});
