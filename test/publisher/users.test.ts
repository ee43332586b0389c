import { createECDH, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { allows, type Preferences } from '@herald/shared';
import { usePublisher } from '../helpers/publisher.js';

const ctx = usePublisher();

/** `userId` as it goes in the path. */
function path(userId: string) {
  return `/v1/users/${encodeURIComponent(userId)}`;
}

function put(userId: string, body: unknown) {
  return ctx.pub.app.inject({
    method: 'PUT',
    url: path(userId),
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
}

function get(userId: string) {
  return ctx.pub.app.inject({ method: 'GET', url: path(userId) });
}

function del(userId: string) {
  return ctx.pub.app.inject({ method: 'DELETE', url: path(userId) });
}

/** A subscription as a browser's `PushSubscription.toJSON()` gives it. */
function browserSubscription(endpoint = 'https://push.example.com/abc') {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    endpoint,
    expirationTime: null,
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
  };
}

async function subscribe(userId: string, endpoint?: string) {
  const res = await ctx.pub.app.inject({
    method: 'POST',
    url: `${path(userId)}/push-subscriptions`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(browserSubscription(endpoint)),
  });
  expect(res.statusCode).toBe(201);
}

const ada = {
  email: 'ada@example.com',
  phone: '+14155550123',
  locale: 'pt-BR',
  preferences: { marketing: { sms: false, email: true }, '*': { push: false } },
};

describe('PUT /v1/users/:userId', () => {
  it('answers 200 with the user view', async () => {
    const res = await put('u1', ada);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ userId: 'u1', ...ada, pushSubscriptions: [] });
    const stored = await ctx.pub.admin.hgetall(ctx.pub.keys.user('u1'));
    expect(stored).toMatchObject({ email: ada.email, phone: ada.phone, locale: ada.locale });
    expect(JSON.parse(stored.prefs!)).toEqual(ada.preferences);
    expect(Number(stored.updatedAt)).toBeGreaterThan(Date.now() - 10_000);
  });

  it('stores a user with no contact data and no preferences', async () => {
    const res = await put('bare', {});
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ userId: 'bare', preferences: {}, pushSubscriptions: [] });
    expect((await get('bare')).statusCode).toBe(200);
  });

  it('replaces contact data and preferences (a field left out is gone) and keeps push subscriptions', async () => {
    await put('u1', ada);
    await subscribe('u1', 'https://push.example.com/one');
    const res = await put('u1', { email: 'ada@new.example.com', preferences: { otp: { email: false } } });
    expect(res.statusCode).toBe(200);
    const expected = {
      userId: 'u1',
      email: 'ada@new.example.com',
      preferences: { otp: { email: false } },
      pushSubscriptions: [{ endpoint: 'https://push.example.com/one', createdAt: expect.any(String) }],
    };
    expect(res.json()).toEqual(expected);
    expect((await get('u1')).json()).toEqual(expected);
    const stored = await ctx.pub.admin.hgetall(ctx.pub.keys.user('u1'));
    expect(Object.keys(stored).sort()).toEqual(['email', 'prefs', 'updatedAt']);

    // Without preferences at all, the old ones are gone too.
    const cleared = await put('u1', { phone: '+442071838750' });
    expect(cleared.json()).toEqual({
      userId: 'u1',
      phone: '+442071838750',
      preferences: {},
      pushSubscriptions: [{ endpoint: 'https://push.example.com/one', createdAt: expect.any(String) }],
    });
  });

  it.each([
    ['an email that is not one', { email: 'not-an-email' }, ['email']],
    ['a phone not in E.164 form', { phone: '4155550123' }, ['phone']],
    ['a phone starting with +0', { phone: '+0155550123' }, ['phone']],
    ['a locale that is not a language tag', { locale: 'english_US' }, ['locale']],
    ['a non-boolean channel preference', { preferences: { marketing: { sms: 'no' } } }, ['preferences.marketing.sms']],
    ['an unknown channel key', { preferences: { marketing: { fax: true } } }, ['preferences.marketing.fax']],
    ['a bad type key', { preferences: { 'Bad Type': { sms: false } } }, ['preferences.Bad Type']],
    ['a channel map that is not an object', { preferences: { marketing: true } }, ['preferences.marketing']],
    ['preferences that are a list', { preferences: [] }, ['preferences']],
    ['an unknown field', { nickname: 'ada' }, ['nickname']],
    ['several bad fields at once', { email: 'x', phone: 'y', locale: '1' }, ['email', 'phone', 'locale']],
  ])('answers 400 HERALD_ERR_VALIDATION for %s and stores nothing', async (_name, body, paths) => {
    const res = await put('u-bad', body);
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error.code).toBe('HERALD_ERR_VALIDATION');
    expect(error.issues.map((i: { path: string }) => i.path).sort()).toEqual([...paths].sort());
    for (const issue of error.issues) expect(issue.message).toEqual(expect.any(String));
    expect(await ctx.pub.admin.exists(ctx.pub.keys.user('u-bad'))).toBe(0);
    expect((await get('u-bad')).statusCode).toBe(404);
  });

  it('rejects an invalid replacement, naming the field, and keeps the stored user', async () => {
    await put('u1', ada);
    const res = await put('u1', { ...ada, preferences: { marketing: { sms: 1 } } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.issues).toEqual([{ path: 'preferences.marketing.sms', message: expect.any(String) }]);
    expect((await get('u1')).json()).toMatchObject(ada);
  });
});

describe('GET /v1/users/:userId', () => {
  it('returns contact data, preferences and push subscription endpoints', async () => {
    await put('u1', ada);
    await subscribe('u1', 'https://push.example.com/a');
    await subscribe('u1', 'https://push.example.com/b');
    const res = await get('u1');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toEqual({
      userId: 'u1',
      ...ada,
      pushSubscriptions: expect.any(Array),
    });
    expect(body.pushSubscriptions.map((s: { endpoint: string }) => s.endpoint).sort()).toEqual([
      'https://push.example.com/a',
      'https://push.example.com/b',
    ]);
    for (const s of body.pushSubscriptions) {
      // Only the endpoint and when it was added: the keys stay inside.
      expect(Object.keys(s).sort()).toEqual(['createdAt', 'endpoint']);
      expect(Date.parse(s.createdAt)).toBeGreaterThan(Date.now() - 10_000);
    }
  });

  it('answers 404 HERALD_ERR_NOT_FOUND for an unknown user', async () => {
    const res = await get('nobody');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('HERALD_ERR_NOT_FOUND');
  });

  it('answers 500 HERALD_ERR_INTERNAL, not a 400 blaming the caller, when the stored user is corrupt', async () => {
    expect((await put('corrupt', ada)).statusCode).toBe(200);
    // Written around Herald, straight into Redis: preferences that are not JSON.
    await ctx.pub.admin.hset(ctx.pub.keys.user('corrupt'), 'prefs', '{not json');
    const res = await get('corrupt');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'HERALD_ERR_INTERNAL', message: expect.any(String) } });
    expect(res.body).not.toContain('request body');
  });
});

describe('DELETE /v1/users/:userId', () => {
  it('answers 204, then the user is 404 and their push subscriptions are gone too', async () => {
    await put('u1', ada);
    await subscribe('u1');
    await put('u2', { email: 'grace@example.com' });
    expect(await ctx.pub.admin.exists(ctx.pub.keys.user('u1'), ctx.pub.keys.pushSubscriptions('u1'))).toBe(2);

    const res = await del('u1');
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    const after = await get('u1');
    expect(after.statusCode).toBe(404);
    expect(after.json().error.code).toBe('HERALD_ERR_NOT_FOUND');
    expect(await ctx.pub.admin.exists(ctx.pub.keys.user('u1'))).toBe(0);
    expect(await ctx.pub.admin.exists(ctx.pub.keys.pushSubscriptions('u1'))).toBe(0);
    // Another user is untouched.
    expect((await get('u2')).json()).toMatchObject({ userId: 'u2', email: 'grace@example.com' });
  });

  it('removes a user who only has push subscriptions', async () => {
    await subscribe('only-push');
    expect((await get('only-push')).json()).toMatchObject({
      userId: 'only-push',
      pushSubscriptions: [expect.any(Object)],
    });
    expect((await del('only-push')).statusCode).toBe(204);
    expect((await get('only-push')).statusCode).toBe(404);
    expect(await ctx.pub.admin.exists(ctx.pub.keys.pushSubscriptions('only-push'))).toBe(0);
  });
});

describe('user ids in the path', () => {
  it.each(['a/b', 'a b', 'a+b', '50%off', 'a?b#c', 'café', 'ü/ö:ß', 'x'.repeat(100)])(
    'round-trips %j url-encoded',
    async (userId) => {
      const res = await put(userId, { email: 'ada@example.com' });
      expect(res.statusCode).toBe(200);
      expect(res.json().userId).toBe(userId);
      await subscribe(userId);
      const got = await get(userId);
      expect(got.statusCode).toBe(200);
      expect(got.json()).toMatchObject({ userId, email: 'ada@example.com', pushSubscriptions: [expect.any(Object)] });
      expect(await ctx.pub.admin.hget(ctx.pub.keys.user(userId), 'email')).toBe('ada@example.com');
      expect(await ctx.pub.admin.exists(ctx.pub.keys.pushSubscriptions(userId))).toBe(1);
      expect((await del(userId)).statusCode).toBe(204);
      expect(await ctx.pub.admin.exists(ctx.pub.keys.user(userId), ctx.pub.keys.pushSubscriptions(userId))).toBe(0);
    },
  );

  it('round-trips `a%2Fb` as written in a raw URL', async () => {
    const res = await ctx.pub.app.inject({
      method: 'PUT',
      url: '/v1/users/a%2Fb',
      headers: { 'content-type': 'application/json' },
      payload: '{"locale":"en"}',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().userId).toBe('a/b');
    expect((await ctx.pub.app.inject({ method: 'GET', url: '/v1/users/a%2Fb' })).json()).toMatchObject({
      userId: 'a/b',
      locale: 'en',
    });
    expect(await ctx.pub.admin.hget(ctx.pub.keys.user('a/b'), 'locale')).toBe('en');
    // `a/b` unencoded is another path altogether.
    expect((await ctx.pub.app.inject({ method: 'GET', url: '/v1/users/a/b' })).statusCode).toBe(404);
  });

  it('accepts a user id of 128 characters, the longest a notification may name', async () => {
    const userId = 'x'.repeat(128);
    const published = await ctx.pub.app.inject({
      method: 'POST',
      url: '/v1/notifications',
      headers: { 'content-type': 'application/json' },
      payload: { userId, type: 'otp', body: 'Your code is 123456' },
    });
    expect(published.statusCode).toBe(202);
    // The same user must be able to have contact data, or the notification can never reach them.
    const res = await put(userId, { email: 'long@example.com' });
    expect(res.statusCode).toBe(200);
    expect(res.json().userId).toBe(userId);
  });

  it('answers 400 naming the user id for one longer than 128 characters or with control characters', async () => {
    const res = await put('x'.repeat(129), {});
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('HERALD_ERR_VALIDATION');
    const control = await put('a\u0001b', {});
    expect(control.statusCode).toBe(400);
    expect(control.json().error.code).toBe('HERALD_ERR_VALIDATION');
  });
});

describe('allows(preferences, type, channel)', () => {
  const preferences: Preferences = {
    marketing: { sms: false, email: true },
    otp: { push: true },
    '*': { sms: true, push: false, email: false },
  };

  it('uses the type preference when it names the channel', () => {
    expect(allows(preferences, 'marketing', 'sms')).toBe(false); // over `*` sms: true
    expect(allows(preferences, 'marketing', 'email')).toBe(true); // over `*` email: false
    expect(allows(preferences, 'otp', 'push')).toBe(true); // over `*` push: false
  });

  it('falls back to `*` when the type preference does not name the channel', () => {
    expect(allows(preferences, 'marketing', 'push')).toBe(false);
    expect(allows(preferences, 'otp', 'sms')).toBe(true);
    expect(allows(preferences, 'otp', 'email')).toBe(false);
  });

  it('falls back to `*` for a type without a preference', () => {
    expect(allows(preferences, 'order.shipped', 'sms')).toBe(true);
    expect(allows(preferences, 'order.shipped', 'push')).toBe(false);
  });

  it('allows when neither names the channel', () => {
    expect(allows({ marketing: { sms: false } }, 'marketing', 'email')).toBe(true);
    expect(allows({ marketing: { sms: false } }, 'otp', 'sms')).toBe(true);
    expect(allows({ '*': { sms: false } }, 'otp', 'push')).toBe(true);
    expect(allows({}, 'otp', 'push')).toBe(true);
    expect(allows(undefined, 'otp', 'email')).toBe(true);
  });

  it('is not fooled by a type named like an Object property', () => {
    expect(allows({ '*': { email: false } }, 'constructor', 'email')).toBe(false);
    expect(allows({}, 'constructor', 'sms')).toBe(true);
  });
});
