import { createECDH, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { publisherEnv } from '../../services/publisher/src/config.js';
import { singleUser, userScope } from '../../services/publisher/src/user-scope.js';
import { UserTokens } from '../../services/publisher/src/user-tokens.js';
import { configErrorLines } from '../helpers/config-lines.js';
import { usePublisher, type TestPublisher } from '../helpers/publisher.js';

/**
 * Issue 12: any publish key could read and change any user, add its own push endpoint and get
 * the user's pushes, and the demo page asked browsers for a publish key. Keys now carry a scope
 * of user ids, and browsers get user tokens that reach their own user's push subscriptions only.
 */
const SECRET = 'first-user-token-secret-of-32-chars!';
const OLD_SECRET = 'older-user-token-secret-of-32-chars!';
const ENV = {
  HERALD_API_KEYS: 'acme-key:acme-*,beta-key:beta-*,any-key',
  HERALD_ADMIN_KEYS: 'ak',
  HERALD_USER_TOKEN_SECRETS: `${SECRET},${OLD_SECRET}`,
};
const ctx = usePublisher(ENV);

function subscription(endpoint = `https://push.example.com/${randomBytes(6).toString('hex')}`) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    endpoint,
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
  };
}

function as(pub: TestPublisher, credential: string) {
  return (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    pub.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${credential}` },
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
}

describe('a key scoped to a pattern of user ids', () => {
  it('acts on its own users and is refused, changing nothing, on every route that names another', async () => {
    const acme = as(ctx.pub, 'acme-key');
    const beta = as(ctx.pub, 'beta-key');
    expect((await acme('PUT', '/v1/users/acme-1', { email: 'a@example.com' })).statusCode).toBe(200);
    const sub = subscription();
    expect((await acme('POST', '/v1/users/acme-1/push-subscriptions', sub)).statusCode).toBe(201);
    const published = await acme('POST', '/v1/notifications', {
      id: 'acme-n1',
      userId: 'acme-1',
      type: 't',
      body: 'b',
    });
    expect(published.statusCode).toBe(202);
    const before = await ctx.pub.admin.hgetall(ctx.pub.keys.user('acme-1'));

    const refusals = [
      await beta('GET', '/v1/users/acme-1'),
      await beta('PUT', '/v1/users/acme-1', { email: 'attacker@example.com' }),
      await beta('POST', '/v1/users/acme-1/push-subscriptions', subscription('https://attacker.example.com/x')),
      await beta('DELETE', `/v1/users/acme-1/push-subscriptions?endpoint=${encodeURIComponent(sub.endpoint)}`),
      await beta('POST', '/v1/users/acme-1/tokens'),
      await beta('POST', '/v1/notifications', {
        userId: 'acme-1',
        type: 't',
        body: 'b',
        to: { email: 'x@example.com' },
      }),
    ];
    for (const res of refusals) {
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json().error).toMatchObject({
        code: 'HERALD_ERR_FORBIDDEN',
        message: "User acme-1 is outside this key's scope (beta-*)",
      });
    }
    expect(await ctx.pub.admin.hgetall(ctx.pub.keys.user('acme-1'))).toEqual(before);
    expect(await ctx.pub.admin.hkeys(ctx.pub.keys.pushSubscriptions('acme-1'))).toEqual([sub.endpoint]);
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(1);

    // A notification of another scope is as good as unknown to it.
    expect((await beta('GET', '/v1/notifications/acme-n1')).statusCode).toBe(404);
    expect((await acme('GET', '/v1/notifications/acme-n1')).statusCode).toBe(200);
    // An unscoped publish key and an admin key reach every user.
    expect((await as(ctx.pub, 'any-key')('GET', '/v1/users/acme-1')).statusCode).toBe(200);
    expect((await as(ctx.pub, 'ak')('GET', '/v1/notifications/acme-n1')).statusCode).toBe(200);
  });

  it('publishes in a batch the items of its own users and refuses each of the others', async () => {
    const res = await as(ctx.pub, 'beta-key')('POST', '/v1/notifications/batch', {
      notifications: [
        { userId: 'acme-1', type: 't', body: 'b' },
        { userId: 'beta-1', type: 't', body: 'b' },
      ],
    });
    expect(res.statusCode).toBe(202);
    const [outside, inside] = res.json().results;
    expect(outside.error).toMatchObject({
      code: 'HERALD_ERR_FORBIDDEN',
      message: expect.stringContaining('user acme-1 is outside'),
    });
    expect(inside).toMatchObject({ status: 'accepted' });
    const entries = await ctx.pub.admin.xrange(ctx.pub.keys.stream, '-', '+');
    expect(entries.map(([, fields]) => fields[fields.indexOf('userId') + 1])).toEqual(['beta-1']);
  });

  it("learns nothing of another tenant's notification id, and cannot replace its record, however old", async () => {
    await ctx.restart({ HERALD_IDEMPOTENCY_TTL_S: '1' });
    const acme = as(ctx.pub, 'acme-key');
    const beta = as(ctx.pub, 'beta-key');
    const first = await acme('POST', '/v1/notifications', { id: 'order-1', userId: 'acme-1', type: 't', body: 'b' });
    expect(first.statusCode).toBe(202);
    const record = await ctx.pub.admin.hgetall(ctx.pub.keys.notification('order-1'));

    const taken = await beta('POST', '/v1/notifications', { id: 'order-1', userId: 'beta-1', type: 't', body: 'b' });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().error.message).toBe(
      'Notification id order-1 is taken; use a new id ' +
        '(ids are shared by every key: prefix yours, such as acme:order-1)',
    );
    expect(taken.body).not.toContain(first.json().streamId);
    // Naming the tenant's own user instead is refused for the scope before the id is looked at.
    const same = await beta('POST', '/v1/notifications', { id: 'order-1', userId: 'acme-1', type: 't', body: 'b' });
    expect(same.statusCode).toBe(403);
    const inBatch = await beta('POST', '/v1/notifications/batch', {
      notifications: [{ id: 'order-1', userId: 'beta-1', type: 't', body: 'b' }],
    });
    expect(inBatch.json().results[0].error.message).toContain('is taken');

    // Past the idempotency window the record is still the tenant's: not replaced, not deleted.
    await expect
      .poll(
        async () =>
          (await acme('POST', '/v1/notifications', { id: 'order-1', userId: 'acme-1', type: 't', body: 'other' }))
            .statusCode,
        { timeout: 5000, interval: 200 },
      )
      .toBe(202);
    const later = await beta('POST', '/v1/notifications', { id: 'order-1', userId: 'beta-1', type: 't', body: 'b' });
    expect(later.statusCode).toBe(409);
    expect(await ctx.pub.admin.hget(ctx.pub.keys.notification('order-1'), 'uid')).toBe(record.uid);
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(2);
    // An unscoped key reaches every user, so ids are its own to reuse as before.
    const global = await as(ctx.pub, 'any-key')('POST', '/v1/notifications', {
      id: 'order-1',
      userId: 'acme-1',
      type: 't',
      body: 'other',
    });
    expect(global.statusCode).toBe(200);
  });

  it('matches the whole user id, * standing for any run of characters', () => {
    const matches = (pattern: string, ids: string[]) => ids.map((id) => userScope(pattern).includes(id));
    expect(matches('acme-*', ['acme-', 'acme-1', 'acme-a:b*c'])).toEqual([true, true, true]);
    expect(matches('acme-*', ['acme', 'xacme-1', 'ACME-1', 'beta-1'])).toEqual([false, false, false, false]);
    expect(matches('t:*:staff', ['t::staff', 't:eu:staff', 't:eu:staffer', 't.eu.staff'])).toEqual([
      true,
      true,
      false,
      false,
    ]);
    // Regular-expression characters in a pattern are plain characters.
    expect(matches('a.b+(c)', ['a.b+(c)', 'axbb(c)'])).toEqual([true, false]);
  });

  it('reads the same in Redis: the Lua pattern the publish script gets holds exactly the users the key does', async () => {
    // Characters that are magic to Lua patterns or regular expressions, and one beyond ASCII.
    const text = fc.string({
      unit: fc.constantFrom('a', 'b', '-', '.', '%', ':', '(', '[', ']', '^', '$', '+', '?', '\u00e9'),
      maxLength: 6,
    });
    const pattern = fc.array(text, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('*'));
    const users = (p: string) =>
      fc.array(fc.oneof(text, fc.constant(p.replaceAll('*', '')), fc.constant(p.replaceAll('*', 'x%'))), {
        minLength: 1,
        maxLength: 4,
      });
    await fc.assert(
      fc.asyncProperty(
        pattern.chain((p) => fc.tuple(fc.constant(p), users(p))),
        async ([p, ids]) => {
          const scope = userScope(p);
          for (const id of ids.filter((u) => u !== '')) {
            const inRedis = (await ctx.pub.admin.eval(
              'return string.find(ARGV[1], ARGV[2]) and 1 or 0',
              0,
              id,
              scope.lua ?? '',
            )) as number;
            expect(inRedis === 1, `${JSON.stringify(id)} in ${JSON.stringify(p)} (Lua ${scope.lua})`).toBe(
              scope.includes(id),
            );
          }
          const one = singleUser(`${p}!`);
          expect(
            await ctx.pub.admin.eval('return string.find(ARGV[1], ARGV[2]) and 1 or 0', 0, `${p}!`, one.lua!),
          ).toBe(1);
          expect(
            await ctx.pub.admin.eval(
              'return string.find(ARGV[1], ARGV[2]) and 1 or 0',
              0,
              `${p.replaceAll('*', 'x')}x!`,
              one.lua!,
            ),
          ).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses at start a scope it cannot use, naming the variable and never the key', () => {
    const lines = (env: Record<string, string>) => configErrorLines(publisherEnv, env);
    expect(lines({ HERALD_API_KEYS: 'secret-key:' })).toEqual([
      expect.stringMatching(/^HERALD_API_KEYS: an entry ends with a colon/),
    ]);
    expect(lines({ HERALD_API_KEYS: ':secret-text' })).toEqual([
      expect.stringMatching(/^HERALD_API_KEYS: an entry starts with a colon/),
    ]);
    expect(lines({ HERALD_API_KEYS: ':secret-text' }).join()).not.toContain('secret-text');
    expect(lines({ HERALD_ADMIN_KEYS: 'admin-secret:acme-*' })).toEqual([
      expect.stringMatching(/^HERALD_ADMIN_KEYS: an admin key takes no scope/),
    ]);
    expect(lines({ HERALD_API_KEYS: 'secret-key:' }).join()).not.toContain('secret-key');
    expect(lines({ HERALD_USER_TOKEN_SECRETS: 'short' })).toEqual([
      expect.stringMatching(/^HERALD_USER_TOKEN_SECRETS: each secret needs at least 32/),
    ]);
  });
});

describe('user tokens', () => {
  async function tokenFor(userId: string, key = 'acme-key'): Promise<string> {
    const res = await as(ctx.pub, key)('POST', `/v1/users/${userId}/tokens`);
    expect(res.statusCode).toBe(201);
    return res.json().token as string;
  }

  it("register and remove the user's own push subscriptions, and nothing else", async () => {
    const browser = as(ctx.pub, await tokenFor('acme-1'));
    const sub = subscription();
    expect((await browser('GET', '/v1/push/vapid-public-key')).statusCode).not.toBe(403);
    expect((await browser('POST', '/v1/users/acme-1/push-subscriptions', sub)).statusCode).toBe(201);
    expect(await ctx.pub.admin.hkeys(ctx.pub.keys.pushSubscriptions('acme-1'))).toEqual([sub.endpoint]);
    expect(
      (await browser('DELETE', `/v1/users/acme-1/push-subscriptions?endpoint=${encodeURIComponent(sub.endpoint)}`))
        .statusCode,
    ).toBe(204);

    // Another user of the same tenant, and everything that is not a browser route.
    const other = await browser('POST', '/v1/users/acme-2/push-subscriptions', subscription());
    expect(other.statusCode).toBe(403);
    expect(other.json().error.message).toBe('User acme-2 is outside this user token');
    for (const [method, url, body] of [
      ['GET', '/v1/users/acme-1'],
      ['PUT', '/v1/users/acme-1', { email: 'a@example.com' }],
      ['POST', '/v1/notifications', { userId: 'acme-1', type: 't', body: 'b' }],
      ['POST', '/v1/users/acme-1/tokens'],
      ['GET', '/v1/groups'],
    ] as const) {
      const res = await browser(method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(403);
    }
    expect(await ctx.pub.admin.exists(ctx.pub.keys.pushSubscriptions('acme-2'), ctx.pub.keys.user('acme-1'))).toBe(0);
    expect(await ctx.pub.admin.exists(ctx.pub.keys.stream)).toBe(0);
  });

  it('are refused when expired, tampered with or signed by an unknown secret; any configured secret verifies', async () => {
    const sub = subscription();
    const post = (token: string) => as(ctx.pub, token)('POST', '/v1/users/acme-1/push-subscriptions', sub);
    const expired = new UserTokens([SECRET], 900).issue('acme-1', Date.now() - 901_000).token;
    const unknown = new UserTokens(['an-unknown-secret-of-32-characters!!'], 900).issue('acme-1').token;
    const [prefix, , mac] = (await tokenFor('acme-1')).split('.');
    const otherUser = Buffer.from(JSON.stringify({ u: 'acme-2', e: Math.floor(Date.now() / 1000) + 600 }));
    const tampered = `${prefix}.${otherUser.toString('base64url')}.${mac}`;
    const tooLong = new UserTokens([SECRET], 86_400).issue('acme-1').token;
    for (const token of [expired, unknown, tampered, tooLong, 'hut1..', 'hut1.x.y.z']) {
      const res = await post(token);
      expect(res.statusCode, token).toBe(401);
      expect(res.json().error.message).toContain('not valid');
    }
    // Signed by the second secret (the one being retired): still good until it expires.
    expect((await post(new UserTokens([OLD_SECRET], 900).issue('acme-1').token)).statusCode).toBe(201);
  });

  it('are made only for a user within the key, and only with HERALD_USER_TOKEN_SECRETS set', async () => {
    const res = await as(ctx.pub, 'acme-key')('POST', '/v1/users/acme-1/tokens');
    expect(res.json()).toEqual({
      token: expect.stringMatching(/^hut1\.[\w-]+\.[\w-]+$/),
      userId: 'acme-1',
      expiresAt: expect.any(String),
    });
    expect(Date.parse(res.json().expiresAt) - Date.now()).toBeGreaterThan(890_000);
    await ctx.restart({ HERALD_USER_TOKEN_SECRETS: '' });
    const none = await as(ctx.pub, 'acme-key')('POST', '/v1/users/acme-1/tokens');
    expect(none.statusCode).toBe(404);
    expect(none.json().error.message).toContain('HERALD_USER_TOKEN_SECRETS');
  });
});

describe("deleting a user's data", () => {
  it('is an admin action: a publish key may replace stored fields but not leave them out', async () => {
    const key = as(ctx.pub, 'any-key');
    await key('PUT', '/v1/users/u1', {
      email: 'u@example.com',
      phone: '+14155550123',
      preferences: { '*': { sms: false } },
    });
    const stored = await ctx.pub.admin.hgetall(ctx.pub.keys.user('u1'));

    const emptied = await key('PUT', '/v1/users/u1', {});
    expect(emptied.statusCode).toBe(403);
    expect(emptied.json().error.message).toContain('email, phone, preferences');
    expect(emptied.json().error.issues.map((i: { path: string }) => i.path)).toEqual(['email', 'phone', 'preferences']);
    const dropsPhone = await key('PUT', '/v1/users/u1', { email: 'new@example.com', preferences: {} });
    expect(dropsPhone.statusCode).toBe(403);
    expect(dropsPhone.json().error.issues).toEqual([
      { path: 'phone', message: expect.stringContaining('admin key') },
      { path: 'preferences', message: expect.stringContaining('admin key') },
    ]);
    expect(await ctx.pub.admin.hgetall(ctx.pub.keys.user('u1'))).toEqual(stored);

    const replaced = await key('PUT', '/v1/users/u1', {
      email: 'new@example.com',
      phone: '+14155550100',
      preferences: { '*': { sms: true } },
    });
    expect(replaced.statusCode).toBe(200);
    expect((await key('DELETE', '/v1/users/u1')).statusCode).toBe(403);
    const byAdmin = await as(ctx.pub, 'ak')('PUT', '/v1/users/u1', {});
    expect(byAdmin.statusCode).toBe(200);
    expect(byAdmin.json()).toEqual({ userId: 'u1', preferences: {}, pushSubscriptions: [] });
  });
});
