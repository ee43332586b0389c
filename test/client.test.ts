import { createECDH, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HeraldApiError, HeraldClient, type PushSubscription } from '@herald/shared';
import { freePort } from './helpers/free-port.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { startPublisher, type TestPublisher } from './helpers/publisher.js';

let redisServer: TestRedis;
let pub: TestPublisher;
let baseUrl: string;
let client: HeraldClient;
/** URLs the counting fetch was called with. */
let requests: string[];

function p256dhKey(): string {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return ecdh.getPublicKey().toString('base64url');
}

function browserSubscription(endpoint = 'https://push.example.com/abc'): PushSubscription {
  return { endpoint, expirationTime: null, keys: { p256dh: p256dhKey(), auth: randomBytes(16).toString('base64url') } };
}

const vapidPublicKey = p256dhKey();

/** A fetch that counts what goes through it. */
const countingFetch: typeof fetch = (input, init) => {
  requests.push(String(input instanceof Request ? input.url : input));
  return fetch(input, init);
};

function makeClient(apiKey: string | undefined, url = baseUrl) {
  return new HeraldClient({ baseUrl: url, ...(apiKey ? { apiKey } : {}), fetch: countingFetch });
}

/** Run `fn` and return the HeraldApiError it throws. */
async function apiError(fn: () => Promise<unknown>): Promise<HeraldApiError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HeraldApiError);
    return err as HeraldApiError;
  }
  throw new Error('expected a HeraldApiError, but the call succeeded');
}

beforeAll(async () => {
  redisServer = await startRedis();
});
afterAll(async () => {
  await redisServer.destroy();
});
beforeEach(async () => {
  pub = await startPublisher(redisServer.url, {
    HERALD_API_KEYS: 'k',
    HERALD_ADMIN_KEYS: 'admin',
    VAPID_PUBLIC_KEY: vapidPublicKey,
  });
  baseUrl = await pub.listen();
  requests = [];
  client = makeClient('k');
});
afterEach(async () => {
  await pub.close();
});

const valid = { userId: 'u1', type: 'otp', body: 'Your code is 123456' };

describe('HeraldClient.publish', () => {
  it('answers accepted, then duplicate with the same streamId for the same id', async () => {
    const first = await client.publish({ ...valid, id: 'c-1' });
    expect(first).toEqual({ id: 'c-1', streamId: expect.stringMatching(/^\d+-\d+$/), status: 'accepted' });
    const second = await client.publish({ ...valid, id: 'c-1' });
    expect(second).toEqual({ ...first, status: 'duplicate' });
    expect(await pub.admin.xlen(pub.keys.stream)).toBe(1);
    expect(requests).toEqual([`${baseUrl}/v1/notifications`, `${baseUrl}/v1/notifications`]);
  });

  it('generates an id when none is given', async () => {
    const result = await client.publish(valid);
    expect(result.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(result.status).toBe('accepted');
  });

  it('sends the idempotencyKey option as Idempotency-Key', async () => {
    const first = await client.publish(valid, { idempotencyKey: 'order-42:shipped' });
    expect(first).toMatchObject({ id: 'order-42:shipped', status: 'accepted' });
    const again = await client.publish(valid, { idempotencyKey: 'order-42:shipped' });
    expect(again).toEqual({ ...first, status: 'duplicate' });
    expect(await pub.admin.xlen(pub.keys.stream)).toBe(1);
  });

  it('reports 409 HERALD_ERR_IDEMPOTENCY_MISMATCH for the same id with another notification', async () => {
    await client.publish({ ...valid, id: 'c-2' });
    const error = await apiError(() => client.publish({ ...valid, id: 'c-2', body: 'Something else' }));
    expect(error).toMatchObject({ status: 409, code: 'HERALD_ERR_IDEMPOTENCY_MISMATCH', retryable: false });
  });

  it('throws HERALD_ERR_VALIDATION with the issues before any request for an invalid notification', async () => {
    const error = await apiError(() => client.publish({ userId: 'u1', type: 'Not A Type', body: '' }));
    expect(error).toMatchObject({
      name: 'HeraldApiError',
      status: 400,
      code: 'HERALD_ERR_VALIDATION',
      retryable: false,
    });
    expect(error.issues?.map((i) => i.path).sort()).toEqual(['body', 'type']);
    expect(error.message).toMatch(/type/);
    expect(requests).toEqual([]);
    expect(await pub.admin.xlen(pub.keys.stream)).toBe(0);
  });

  it('gives the same issues as the API would', async () => {
    const bad = { userId: 'u1', type: 'otp', body: 'x', channels: ['fax'], to: { email: 'nope' } };
    const error = await apiError(() => client.publish(bad as never));
    const res = await pub.app.inject({
      method: 'POST',
      url: '/v1/notifications',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      payload: bad,
    });
    expect(res.statusCode).toBe(400);
    expect(error.issues).toEqual(res.json().error.issues);
    expect(requests).toEqual([]);
  });

  it('throws HERALD_ERR_VALIDATION for a bad idempotencyKey (from the API)', async () => {
    const error = await apiError(() => client.publish(valid, { idempotencyKey: 'has space' }));
    expect(error).toMatchObject({ status: 400, code: 'HERALD_ERR_VALIDATION', retryable: false });
    expect(error.issues).toEqual([{ path: 'Idempotency-Key', message: expect.any(String) }]);
  });
});

describe('HeraldClient.publishBatch', () => {
  it('returns one result per item, in order', async () => {
    await client.publish({ ...valid, id: 'b-dup' });
    const results = await client.publishBatch([
      { ...valid, id: 'b-1' },
      { ...valid, type: 'Bad Type' },
      { ...valid, id: 'b-dup' },
      valid,
    ]);
    expect(results).toHaveLength(4);
    expect(results[0]).toEqual({ id: 'b-1', streamId: expect.stringMatching(/^\d+-\d+$/), status: 'accepted' });
    expect(results[1]).toEqual({
      error: {
        code: 'HERALD_ERR_VALIDATION',
        message: expect.any(String),
        issues: [{ path: 'notifications.1.type', message: expect.any(String) }],
      },
    });
    expect(results[2]).toMatchObject({ id: 'b-dup', status: 'duplicate' });
    expect(results[3]).toMatchObject({ status: 'accepted' });
    expect(await pub.admin.xlen(pub.keys.stream)).toBe(3);
  });

  it('throws HERALD_ERR_VALIDATION when no item is accepted', async () => {
    const error = await apiError(() => client.publishBatch([{ ...valid, body: '' }]));
    expect(error).toMatchObject({ status: 400, code: 'HERALD_ERR_VALIDATION', retryable: false });
    expect(error.issues).toEqual([{ path: 'notifications.0.body', message: expect.any(String) }]);
  });
});

describe('HeraldClient.getStatus', () => {
  it("returns a notification's status", async () => {
    const { id, streamId } = await client.publish({ ...valid, id: 'st-1', channels: ['email'] });
    const status = await client.getStatus(id);
    expect(status).toMatchObject({ id: 'st-1', userId: 'u1', type: 'otp', streamId });
    expect(Date.parse(status.createdAt)).toBeGreaterThan(Date.now() - 10_000);
    expect(status.channels.email).toMatchObject({ state: 'pending', attempts: 0 });
  });

  it('throws 404 HERALD_ERR_NOT_FOUND for an unknown id', async () => {
    const error = await apiError(() => client.getStatus('no-such-id'));
    expect(error).toMatchObject({ status: 404, code: 'HERALD_ERR_NOT_FOUND', retryable: false });
  });
});

describe('HeraldClient users', () => {
  const ada = {
    email: 'ada@example.com',
    phone: '+14155550123',
    locale: 'en-GB',
    preferences: { marketing: { sms: false } },
  };

  it('putUser, getUser and deleteUser (with an admin key)', async () => {
    const put = await client.putUser('u1', ada);
    expect(put).toEqual({ userId: 'u1', ...ada, pushSubscriptions: [] });
    expect(await client.getUser('u1')).toEqual(put);

    // Leaving stored fields out erases them: an admin action.
    const erasing = await apiError(() => client.putUser('u1', { locale: 'fr' }));
    expect(erasing).toMatchObject({
      status: 403,
      code: 'HERALD_ERR_FORBIDDEN',
      issues: [{ path: 'email' }, { path: 'phone' }, { path: 'preferences' }],
    });
    const replaced = await makeClient('admin').putUser('u1', { locale: 'fr' });
    expect(replaced).toEqual({ userId: 'u1', locale: 'fr', preferences: {}, pushSubscriptions: [] });

    const forbidden = await apiError(() => client.deleteUser('u1'));
    expect(forbidden).toMatchObject({ status: 403, code: 'HERALD_ERR_FORBIDDEN', retryable: false });

    await expect(makeClient('admin').deleteUser('u1')).resolves.toBeUndefined();
    const gone = await apiError(() => client.getUser('u1'));
    expect(gone).toMatchObject({ status: 404, code: 'HERALD_ERR_NOT_FOUND', retryable: false });
  });

  it('encodes user ids in the path', async () => {
    const userId = 'tenant/a b?c#d%';
    expect((await client.putUser(userId, { email: 'ada@example.com' })).userId).toBe(userId);
    expect(await client.getUser(userId)).toMatchObject({ userId, email: 'ada@example.com' });
    expect(await pub.admin.hget(pub.keys.user(userId), 'email')).toBe('ada@example.com');
    await makeClient('admin').deleteUser(userId);
    expect(await pub.admin.exists(pub.keys.user(userId))).toBe(0);
  });

  it('throws HERALD_ERR_VALIDATION before any request for an invalid user', async () => {
    const error = await apiError(() =>
      client.putUser('u1', { email: 'nope', preferences: { marketing: { sms: 'no' } } } as never),
    );
    expect(error).toMatchObject({ status: 400, code: 'HERALD_ERR_VALIDATION', retryable: false });
    expect(error.issues?.map((i) => i.path).sort()).toEqual(['email', 'preferences.marketing.sms']);
    expect(requests).toEqual([]);
  });
});

describe('HeraldClient push subscriptions', () => {
  it('addPushSubscription and removePushSubscription', async () => {
    const endpoint = 'https://push.example.com/abc?x=1&y=2';
    expect(await client.addPushSubscription('u1', browserSubscription(endpoint))).toEqual({ endpoint });
    expect(await client.addPushSubscription('u1', browserSubscription(endpoint))).toEqual({ endpoint });
    expect((await client.getUser('u1')).pushSubscriptions).toEqual([{ endpoint, createdAt: expect.any(String) }]);

    await expect(client.removePushSubscription('u1', endpoint)).resolves.toBeUndefined();
    expect(await pub.admin.exists(pub.keys.pushSubscriptions('u1'))).toBe(0);
    const again = await apiError(() => client.removePushSubscription('u1', endpoint));
    expect(again).toMatchObject({ status: 404, code: 'HERALD_ERR_NOT_FOUND', retryable: false });
  });

  it('throws HERALD_ERR_VALIDATION before any request for an invalid subscription', async () => {
    const subscription = browserSubscription('http://push.example.com/abc');
    subscription.keys.auth = randomBytes(8).toString('base64url');
    const error = await apiError(() => client.addPushSubscription('u1', subscription));
    expect(error).toMatchObject({ status: 400, code: 'HERALD_ERR_VALIDATION' });
    expect(error.issues?.map((i) => i.path).sort()).toEqual(['endpoint', 'keys.auth']);
    expect(requests).toEqual([]);
  });

  it('reports the API rejecting a private endpoint', async () => {
    const error = await apiError(() => client.addPushSubscription('u1', browserSubscription('https://10.0.0.1/x')));
    expect(error).toMatchObject({
      status: 400,
      code: 'HERALD_ERR_VALIDATION',
      issues: [{ path: 'endpoint', message: expect.any(String) }],
    });
    expect(requests).toHaveLength(1);
  });

  it('getVapidPublicKey', async () => {
    expect(await client.getVapidPublicKey()).toBe(vapidPublicKey);
  });
});

describe('HeraldClient errors', () => {
  it('a wrong key: HeraldApiError status 401 HERALD_ERR_UNAUTHORIZED, not retryable', async () => {
    for (const wrong of [makeClient('wrong'), makeClient(undefined)]) {
      const error = await apiError(() => wrong.publish(valid));
      expect(error).toMatchObject({
        name: 'HeraldApiError',
        status: 401,
        code: 'HERALD_ERR_UNAUTHORIZED',
        retryable: false,
      });
      expect(error.message).toEqual(expect.any(String));
    }
    expect(await pub.admin.xlen(pub.keys.stream)).toBe(0);
  });

  it('nothing listening: HERALD_ERR_NETWORK, status 0, retryable', async () => {
    const port = await freePort();
    const unreachable = makeClient('k', `http://127.0.0.1:${port}`);
    const error = await apiError(() => unreachable.publish(valid));
    expect(error).toMatchObject({ name: 'HeraldApiError', status: 0, code: 'HERALD_ERR_NETWORK', retryable: true });
    expect(error.message).toContain(`127.0.0.1:${port}`);
    const read = await apiError(() => unreachable.getUser('u1'));
    expect(read).toMatchObject({ status: 0, code: 'HERALD_ERR_NETWORK', retryable: true });
  });

  it('a trailing slash in baseUrl is fine', async () => {
    const slashed = makeClient('k', `${baseUrl}//`);
    expect((await slashed.publish(valid)).status).toBe('accepted');
    expect(requests).toEqual([`${baseUrl}/v1/notifications`]);
  });
});
