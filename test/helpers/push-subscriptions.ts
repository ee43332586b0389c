import { createECDH, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { encodePushSubscription, type NotificationStatusView, type StoredPushSubscription } from '@herald/shared';
import type { TestPublisher } from './publisher.js';
import { waitFor } from './wait-for.js';

/** A browser-like subscription's keys: a P-256 public key (65 bytes) and 16 bytes of auth secret, base64url. */
export function browserKeys(): StoredPushSubscription['keys'] {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
}

/** `POST /v1/users/:userId/push-subscriptions` with `endpoint` and `keys`, as a browser's subscription. */
export function subscribe(pub: TestPublisher, userId: string, endpoint: string, keys: StoredPushSubscription['keys']) {
  return pub.app.inject({
    method: 'POST',
    url: `/v1/users/${encodeURIComponent(userId)}/push-subscriptions`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ endpoint, expirationTime: null, keys }),
  });
}

/**
 * Push subscriptions written straight into Redis, as the publisher stored them before a check
 * or limit of today existed (issue 12): the worker must cope with what is already there.
 */
export async function storeSubscriptions(
  pub: TestPublisher,
  userId: string,
  subscriptions: StoredPushSubscription[],
): Promise<void> {
  const fields = subscriptions.flatMap((s) => Object.values(encodePushSubscription(s)));
  await pub.admin.hset(pub.keys.pushSubscriptions(userId), ...fields);
}

/** Publish `body` (type `probe` unless it says) for push only, and wait until push left pending and retrying. */
export async function publishPushAndSettle(pub: TestPublisher, body: { userId: string } & Record<string, unknown>) {
  const res = await pub.app.inject({
    method: 'POST',
    url: '/v1/notifications',
    payload: { type: 'probe', body: 'x', ...body, channels: ['push'] },
  });
  expect(res.statusCode, res.body).toBe(202);
  const { id } = res.json<{ id: string }>();
  return waitFor(
    async () => {
      const s = (
        await pub.app.inject({ method: 'GET', url: `/v1/notifications/${id}` })
      ).json<NotificationStatusView>();
      const push = s.channels?.push;
      return push && !['pending', 'retrying'].includes(push.state) ? push : undefined;
    },
    { what: `${id} to settle on push` },
  );
}
