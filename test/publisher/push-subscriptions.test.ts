import { createECDH, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isPrivateAddress, isPrivateHost, type StoredPushSubscription } from '@herald/shared';
import { usePublisher } from '../helpers/publisher.js';

const ctx = usePublisher();

function p256dhKey(): string {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return ecdh.getPublicKey().toString('base64url');
}

/** A subscription as a browser's `PushSubscription.toJSON()` gives it. */
function browserSubscription(endpoint = 'https://push.example.com/abc') {
  return {
    endpoint,
    expirationTime: null,
    keys: { p256dh: p256dhKey(), auth: randomBytes(16).toString('base64url') },
  };
}

function subscribe(body: unknown, userId = 'u1') {
  return ctx.pub.app.inject({
    method: 'POST',
    url: `/v1/users/${encodeURIComponent(userId)}/push-subscriptions`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
}

function unsubscribe(query: string, userId = 'u1') {
  return ctx.pub.app.inject({
    method: 'DELETE',
    url: `/v1/users/${encodeURIComponent(userId)}/push-subscriptions${query}`,
  });
}

async function endpointsOf(userId: string): Promise<string[]> {
  const res = await ctx.pub.app.inject({ method: 'GET', url: `/v1/users/${encodeURIComponent(userId)}` });
  if (res.statusCode === 404) return [];
  expect(res.statusCode).toBe(200);
  return res
    .json()
    .pushSubscriptions.map((s: { endpoint: string }) => s.endpoint)
    .sort();
}

/** The distinct issue paths of an error answer, sorted. */
function issuePaths(res: { json(): { error: { issues?: { path: string }[] } } }): string[] {
  return [...new Set((res.json().error.issues ?? []).map((i) => i.path))].sort();
}

const PRIVATE_ENDPOINTS = [
  'https://127.0.0.1/x',
  'https://10.1.2.3/x',
  'https://[::1]/x',
  'https://169.254.169.254/x',
  'https://localhost/x',
  'https://192.168.0.5/x',
  'https://[fe80::1]/x',
  'https://[::ffff:10.0.0.1]/x',
];

describe('POST /v1/users/:userId/push-subscriptions', () => {
  it('answers 201 {endpoint} for a new subscription and 200 for the same one again', async () => {
    const subscription = browserSubscription();
    expect(Buffer.from(subscription.keys.p256dh, 'base64url')).toHaveLength(65);
    const first = await subscribe(subscription);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toEqual({ endpoint: 'https://push.example.com/abc' });
    const again = await subscribe(subscription);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ endpoint: 'https://push.example.com/abc' });
    expect(await endpointsOf('u1')).toEqual(['https://push.example.com/abc']);
  });

  it('stores what sending needs under the endpoint, and new keys for the same endpoint replace the old', async () => {
    const subscription = browserSubscription();
    await subscribe(subscription);
    const stored = JSON.parse(
      (await ctx.pub.admin.hget(ctx.pub.keys.pushSubscriptions('u1'), subscription.endpoint))!,
    ) as StoredPushSubscription;
    expect(stored).toEqual({ endpoint: subscription.endpoint, keys: subscription.keys, createdAt: expect.any(Number) });
    expect(stored.createdAt).toBeGreaterThan(Date.now() - 10_000);

    const renewed = browserSubscription();
    expect((await subscribe(renewed)).statusCode).toBe(200);
    const after = JSON.parse(
      (await ctx.pub.admin.hget(ctx.pub.keys.pushSubscriptions('u1'), subscription.endpoint))!,
    ) as StoredPushSubscription;
    expect(after.keys).toEqual(renewed.keys);
    expect(await ctx.pub.admin.hlen(ctx.pub.keys.pushSubscriptions('u1'))).toBe(1);
  });

  it('lists every subscription of the user on GET /v1/users/:userId', async () => {
    await subscribe(browserSubscription('https://push.example.com/abc'));
    await subscribe(browserSubscription('https://fcm.googleapis.com/fcm/send/xyz'));
    await subscribe(browserSubscription('https://push.example.com/other-user'), 'u2');
    expect(await endpointsOf('u1')).toEqual([
      'https://fcm.googleapis.com/fcm/send/xyz',
      'https://push.example.com/abc',
    ]);
    expect(await endpointsOf('u2')).toEqual(['https://push.example.com/other-user']);
  });

  it('accepts a subscription without expirationTime', async () => {
    const { expirationTime: _, ...subscription } = browserSubscription();
    expect((await subscribe(subscription)).statusCode).toBe(201);
  });

  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const good = browserSubscription();
  it.each([
    [
      'a p256dh of 64 bytes',
      { keys: { ...good.keys, p256dh: randomBytes(64).toString('base64url') } },
      ['keys.p256dh'],
    ],
    [
      'a p256dh of 66 bytes',
      { keys: { ...good.keys, p256dh: Buffer.concat([Buffer.from([4]), randomBytes(65)]).toString('base64url') } },
      ['keys.p256dh'],
    ],
    [
      'a compressed p256dh',
      { keys: { ...good.keys, p256dh: ecdh.getPublicKey(undefined, 'compressed').toString('base64url') } },
      ['keys.p256dh'],
    ],
    [
      'a 65-byte p256dh not starting with 0x04',
      { keys: { ...good.keys, p256dh: Buffer.concat([Buffer.from([2]), randomBytes(64)]).toString('base64url') } },
      ['keys.p256dh'],
    ],
    [
      'a p256dh in standard base64 (+ and /)',
      { keys: { ...good.keys, p256dh: good.keys.p256dh.replace(/^.../, '+/+') } },
      ['keys.p256dh'],
    ],
    [
      'a p256dh with spaces',
      { keys: { ...good.keys, p256dh: `${good.keys.p256dh.slice(0, 10)} ${good.keys.p256dh.slice(10)}` } },
      ['keys.p256dh'],
    ],
    ['an auth of 15 bytes', { keys: { ...good.keys, auth: randomBytes(15).toString('base64url') } }, ['keys.auth']],
    ['an auth of 32 bytes', { keys: { ...good.keys, auth: randomBytes(32).toString('base64url') } }, ['keys.auth']],
    ['an auth that is not base64url', { keys: { ...good.keys, auth: 'not*base64url!!!!!!!!!' } }, ['keys.auth']],
    ['an empty auth', { keys: { ...good.keys, auth: '' } }, ['keys.auth']],
    ['both keys wrong', { keys: { p256dh: 'AAAA', auth: 'AAAA' } }, ['keys.auth', 'keys.p256dh']],
    ['no keys', { keys: undefined }, ['keys']],
    ['an unknown key', { keys: { ...good.keys, extra: 'x' } }, ['keys.extra']],
    ['an http endpoint', { endpoint: 'http://push.example.com/abc' }, ['endpoint']],
    ['an endpoint that is not a URL', { endpoint: 'push.example.com/abc' }, ['endpoint']],
    ['a javascript: endpoint', { endpoint: 'javascript:alert(1)' }, ['endpoint']],
    [
      'an endpoint of more than 2048 characters',
      { endpoint: `https://push.example.com/${'a'.repeat(2048)}` },
      ['endpoint'],
    ],
    ['no endpoint', { endpoint: undefined }, ['endpoint']],
  ])('answers 400 HERALD_ERR_VALIDATION for %s and stores nothing', async (_name, change, paths) => {
    const res = await subscribe({ ...good, ...change });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('HERALD_ERR_VALIDATION');
    expect(issuePaths(res)).toEqual(paths);
    expect(await ctx.pub.admin.exists(ctx.pub.keys.pushSubscriptions('u1'))).toBe(0);
  });

  it.each(PRIVATE_ENDPOINTS)('answers 400 naming endpoint for %s', async (endpoint) => {
    const res = await subscribe(browserSubscription(endpoint));
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error.code).toBe('HERALD_ERR_VALIDATION');
    expect(error.issues).toEqual([{ path: 'endpoint', message: expect.stringContaining('HERALD_ALLOW_PRIVATE_PUSH') }]);
    expect(await ctx.pub.admin.exists(ctx.pub.keys.pushSubscriptions('u1'))).toBe(0);
  });

  it.each([
    'https://LOCALHOST:8443/x',
    'https://push.localhost/x',
    'https://localhost./x',
    'https://127.1/x',
    'https://0x7f000001/x',
    'https://[::ffff:127.0.0.1]/x',
    'https://0.0.0.0/x',
    'https://[fd00::1]/x',
  ])('answers 400 naming endpoint for the disguised private endpoint %s', async (endpoint) => {
    const res = await subscribe(browserSubscription(endpoint));
    expect(res.statusCode).toBe(400);
    expect(issuePaths(res)).toEqual(['endpoint']);
  });

  it('accepts private, loopback and link-local endpoints with HERALD_ALLOW_PRIVATE_PUSH=true', async () => {
    await ctx.restart({ HERALD_ALLOW_PRIVATE_PUSH: 'true' });
    for (const endpoint of PRIVATE_ENDPOINTS) {
      const res = await subscribe(browserSubscription(endpoint));
      expect(res.statusCode, endpoint).toBe(201);
      expect(res.json()).toEqual({ endpoint });
    }
    expect(await endpointsOf('u1')).toEqual([...PRIVATE_ENDPOINTS].sort());
    // The other checks still apply.
    const http = await subscribe(browserSubscription('http://127.0.0.1/x'));
    expect(http.statusCode).toBe(400);
    expect(issuePaths(http)).toEqual(['endpoint']);
  });
});

describe('DELETE /v1/users/:userId/push-subscriptions', () => {
  it('answers 204 for ?endpoint=<urlencoded>, then 404, and leaves the other subscriptions', async () => {
    const endpoint = 'https://fcm.googleapis.com/fcm/send/a:b?c=d&e=f#g';
    await subscribe(browserSubscription(endpoint));
    await subscribe(browserSubscription('https://push.example.com/keep'));
    const res = await unsubscribe(`?endpoint=${encodeURIComponent(endpoint)}`);
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect(await endpointsOf('u1')).toEqual(['https://push.example.com/keep']);
    const again = await unsubscribe(`?endpoint=${encodeURIComponent(endpoint)}`);
    expect(again.statusCode).toBe(404);
    expect(again.json().error.code).toBe('HERALD_ERR_NOT_FOUND');
  });

  it('answers 404 for a user with no subscriptions', async () => {
    const res = await unsubscribe(`?endpoint=${encodeURIComponent('https://push.example.com/abc')}`, 'nobody');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('HERALD_ERR_NOT_FOUND');
  });

  it.each(['', '?endpoint=', '?other=1'])('answers 400 naming endpoint for the query %j', async (query) => {
    await subscribe(browserSubscription());
    const res = await unsubscribe(query);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('HERALD_ERR_VALIDATION');
    expect(issuePaths(res)).toEqual(['endpoint']);
    expect(await endpointsOf('u1')).toEqual(['https://push.example.com/abc']);
  });
});

describe('GET /v1/push/vapid-public-key', () => {
  it('answers 404 HERALD_ERR_NOT_FOUND when VAPID_PUBLIC_KEY is not set', async () => {
    const res = await ctx.pub.app.inject({ method: 'GET', url: '/v1/push/vapid-public-key' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('HERALD_ERR_NOT_FOUND');
  });

  it('answers {publicKey} when it is set', async () => {
    const publicKey = p256dhKey();
    await ctx.restart({ VAPID_PUBLIC_KEY: publicKey });
    const res = await ctx.pub.app.inject({ method: 'GET', url: '/v1/push/vapid-public-key' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ publicKey });
    expect(Buffer.from(res.json().publicKey, 'base64url')).toHaveLength(65);
  });
});

describe('isPrivateAddress / isPrivateHost', () => {
  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '2001:4860:4860::8888',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
  ])('isPrivateAddress(%j) is false', (ip) => {
    expect(isPrivateAddress(ip)).toBe(false);
  });

  it.each(['push.example.com', 'fcm.googleapis.com', '8.8.8.8', '[2001:4860:4860::8888]', 'localhost.example.com'])(
    'isPrivateHost(%j) is false',
    (host) => {
      expect(isPrivateHost(host)).toBe(false);
    },
  );

  it.each([
    '10.0.0.1',
    '127.0.0.1',
    '169.254.169.254',
    '172.16.0.1',
    '192.168.1.1',
    '100.64.0.1',
    '::1',
    'fe80::1',
    'fc00::1',
    '::ffff:10.0.0.1',
    '::ffff:a00:1',
  ])('isPrivateAddress(%j) is true', (ip) => {
    expect(isPrivateAddress(ip)).toBe(true);
  });

  it.each(['localhost', 'LOCALHOST', 'a.localhost', 'localhost.', '[::1]', '127.0.0.1', '[::ffff:a00:1]'])(
    'isPrivateHost(%j) is true',
    (host) => {
      expect(isPrivateHost(host)).toBe(true);
    },
  );

  it('is false for what is not an address', () => {
    expect(isPrivateAddress('not-an-ip')).toBe(false);
    expect(isPrivateAddress('')).toBe(false);
  });
});
