import { describe, expect, it } from 'vitest';
import { parseEnv } from '@herald/shared';
import { publisherEnv } from '../../services/publisher/src/config.js';
import { startPublisher, usePublisher, type TestPublisher } from '../helpers/publisher.js';
import { waitFor } from '../helpers/wait-for.js';

const ctx = usePublisher({ HERALD_API_KEYS: 'pk1,pk2', HERALD_ADMIN_KEYS: 'ak1', HERALD_RATE_LIMIT: '3' });

const notification = { userId: 'u1', type: 'otp', body: 'Your code is 123456' };

function publish(pub: TestPublisher, key: string | undefined, remoteAddress?: string) {
  return pub.app.inject({
    method: 'POST',
    url: '/v1/notifications',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    payload: JSON.stringify(notification),
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

/** Spend `count` requests of a caller's budget, each of which must be let through. */
async function spend(
  pub: TestPublisher,
  key: string | undefined,
  count: number,
  remoteAddress?: string,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await publish(pub, key, remoteAddress);
    expect(res.statusCode, `request ${i + 1} of ${count}`).toBe(202);
  }
}

/** Publish without a key from the socket address `proxy`, forwarding for `client`. */
function publishVia(pub: TestPublisher, client: string, proxy = '127.0.0.1') {
  return pub.app.inject({
    method: 'POST',
    url: '/v1/notifications',
    headers: { 'x-forwarded-for': client },
    payload: notification,
    remoteAddress: proxy,
  });
}

function expectRateLimited(
  res: { statusCode: number; headers: Record<string, unknown>; json(): { error: { code: string; message: string } } },
  maxRetryAfterS: number,
) {
  expect(res.statusCode).toBe(429);
  expect(res.json().error.code).toBe('HERALD_ERR_RATE_LIMITED');
  expect(res.json().error.message).toContain('HERALD_RATE_LIMIT');
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter), `Retry-After ${String(res.headers['retry-after'])}`).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxRetryAfterS);
}

describe('HERALD_RATE_LIMIT', () => {
  it('lets a key send its budget, then answers 429 with Retry-After and appends nothing', async () => {
    await spend(ctx.pub, 'pk1', 3);
    const refused = await publish(ctx.pub, 'pk1');
    // 3 a minute: the next request fits 20 s after the first.
    expectRateLimited(refused, 20);
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(3);
  });

  it('counts every one of many requests arriving together (they share one call to Redis)', async () => {
    const answers = await Promise.all([
      ...Array.from({ length: 8 }, () => publish(ctx.pub, 'pk1')),
      publish(ctx.pub, 'pk2'),
    ]);
    const fromPk1 = answers.slice(0, 8).map((r) => r.statusCode);
    expect(fromPk1.filter((s) => s === 202)).toHaveLength(3);
    expect(fromPk1.filter((s) => s === 429)).toHaveLength(5);
    expect(answers[8]!.statusCode).toBe(202);
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(4);
  });

  it('counts each key on its own, and names no key in Redis', async () => {
    await spend(ctx.pub, 'pk1', 3);
    expectRateLimited(await publish(ctx.pub, 'pk1'), 20);
    await spend(ctx.pub, 'pk2', 3);
    await spend(ctx.pub, 'ak1', 3);
    const budgets = await ctx.pub.admin.keys(ctx.pub.keys.requestBudget('*'));
    expect(budgets).toHaveLength(3);
    for (const key of budgets) expect(key).not.toMatch(/pk1|pk2|ak1/);
  });

  it('charges a refused key to the address it came from: guessing keys is limited too', async () => {
    for (let i = 0; i < 3; i++) expect((await publish(ctx.pub, `wrong-${i}`, '203.0.113.7')).statusCode).toBe(401);
    // Missing, malformed and wrong keys alike; the answer says nothing about the key.
    expectRateLimited(await publish(ctx.pub, undefined, '203.0.113.7'), 20);
    expectRateLimited(await publish(ctx.pub, 'wrong-3', '203.0.113.7'), 20);
    // A publish key on an admin route is refused too, and charged the same way.
    const admin = await ctx.pub.app.inject({
      method: 'GET',
      url: '/v1/groups',
      headers: { authorization: 'Bearer pk1' },
      remoteAddress: '203.0.113.7',
    });
    expectRateLimited(admin, 20);
    // Another address is not held back, and a real key from the same address keeps its own budget.
    expect((await publish(ctx.pub, 'wrong', '203.0.113.8')).statusCode).toBe(401);
    await spend(ctx.pub, 'pk1', 3, '203.0.113.7');
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(3);
  });

  it('counts a 4xx answer too: a caller sending garbage spends its budget', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await ctx.pub.app.inject({
        method: 'GET',
        url: '/v1/users/nobody',
        headers: { authorization: 'Bearer pk1' },
      });
      expect(res.statusCode).toBe(404);
    }
    expectRateLimited(await publish(ctx.pub, 'pk1'), 20);
  });

  it('never limits /healthz, /readyz and /metrics', async () => {
    await spend(ctx.pub, 'pk1', 3);
    expectRateLimited(await publish(ctx.pub, 'pk1'), 20);
    for (const url of ['/healthz', '/readyz', '/metrics']) {
      for (let i = 0; i < 5; i++) {
        const res = await ctx.pub.app.inject({ method: 'GET', url, headers: { authorization: 'Bearer pk1' } });
        expect(res.statusCode, url).toBe(200);
      }
    }
  });

  it("limits guesses at the dashboard's sign-in per client address, though it needs no key", async () => {
    const signIn = (key: string) =>
      ctx.pub.app.inject({
        method: 'POST',
        url: '/dashboard/session',
        headers: { 'content-type': 'application/json' },
        payload: { key },
      });
    for (let i = 0; i < 3; i++) expect((await signIn(`guess-${i}`)).statusCode).toBe(401);
    expectRateLimited(await signIn('ak1'), 20);
  });

  it('is one budget for every publisher replica on the same Redis', async () => {
    const { HERALD_STREAM, HERALD_KEY_PREFIX } = ctx.pub.config;
    const other = await startPublisher(ctx.redis.url, {
      HERALD_API_KEYS: 'pk1',
      HERALD_RATE_LIMIT: '3',
      HERALD_STREAM,
      HERALD_KEY_PREFIX,
    });
    try {
      await spend(ctx.pub, 'pk1', 2);
      await spend(other, 'pk1', 1);
      expectRateLimited(await publish(other, 'pk1'), 20);
      expectRateLimited(await publish(ctx.pub, 'pk1'), 20);
    } finally {
      await other.close();
    }
  });

  it('refills as time passes: a refused caller gets through once Retry-After is over', async () => {
    // 120 a minute: one more every 500 ms once the budget is spent.
    const pub = await ctx.restart({ HERALD_RATE_LIMIT: '120' });
    // The budget refills while it is spent, so count up to the first refusal rather than to 120.
    let accepted = 0;
    let refused = await publish(pub, 'pk1');
    while (refused.statusCode === 202 && accepted < 1000) {
      accepted++;
      refused = await publish(pub, 'pk1');
    }
    expect(accepted).toBeGreaterThanOrEqual(120);
    expectRateLimited(refused, 1);
    const started = Date.now();
    await waitFor(async () => (await publish(pub, 'pk1')).statusCode === 202, { what: 'a request let through again' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('counts per client address when no key is configured', async () => {
    const pub = await ctx.restart({ HERALD_API_KEYS: '', HERALD_ADMIN_KEYS: '' });
    await spend(pub, undefined, 3, '10.0.0.1');
    expectRateLimited(await publish(pub, undefined, '10.0.0.1'), 20);
    await spend(pub, undefined, 3, '10.0.0.2');
    // An Authorization header means nothing without keys, so it opens no budget of its own.
    expectRateLimited(await publish(pub, 'anything', '10.0.0.1'), 20);
  });

  it('ignores X-Forwarded-For by default: a client cannot take another address to escape its budget', async () => {
    const pub = await ctx.restart({ HERALD_API_KEYS: '', HERALD_ADMIN_KEYS: '' });
    for (let i = 0; i < 3; i++) expect((await publishVia(pub, `203.0.113.${i}`)).statusCode).toBe(202);
    expectRateLimited(await publishVia(pub, '203.0.113.99'), 20);
  });

  it('counts each client behind a proxy named in HERALD_TRUSTED_PROXIES, by X-Forwarded-For', async () => {
    const pub = await ctx.restart({
      HERALD_API_KEYS: '',
      HERALD_ADMIN_KEYS: '',
      HERALD_TRUSTED_PROXIES: '127.0.0.0/8, ::1',
    });
    for (let i = 0; i < 3; i++) expect((await publishVia(pub, '203.0.113.1')).statusCode).toBe(202);
    expectRateLimited(await publishVia(pub, '203.0.113.1'), 20);
    // Another client through the same proxy has its own budget.
    expect((await publishVia(pub, '203.0.113.2')).statusCode).toBe(202);
    // The client is the last address the trusted proxy added: what the client wrote before it counts for nothing.
    expectRateLimited(await publishVia(pub, '198.51.100.7, 203.0.113.1'), 20);
    // A socket that is not a trusted proxy is counted by its own address, whatever it forwards.
    for (let i = 0; i < 3; i++) expect((await publishVia(pub, `198.51.100.${i}`, '192.0.2.50')).statusCode).toBe(202);
    expectRateLimited(await publishVia(pub, '198.51.100.200', '192.0.2.50'), 20);
  });

  it('is off with 0: no budget is kept', async () => {
    const pub = await ctx.restart({ HERALD_RATE_LIMIT: '0' });
    await spend(pub, 'pk1', 20);
    expect(await pub.admin.keys(pub.keys.requestBudget('*'))).toEqual([]);
  });

  it('fails open: with Redis down a request answers what its route answers without Redis, never 429', async () => {
    const pub = await ctx.restart({ HERALD_REDIS_TIMEOUT_MS: '200' });
    await spend(pub, 'pk1', 3);
    expectRateLimited(await publish(pub, 'pk1'), 20);
    // Hung (every command times out), then gone (every command fails at once).
    for (const [state, pause, resume] of [
      ['hung', () => ctx.redis.signal('SIGSTOP'), async () => ctx.redis.signal('SIGCONT')],
      ['stopped', () => ctx.redis.stop(), () => ctx.redis.start()],
    ] as const) {
      await pause();
      try {
        const published = await publish(pub, 'pk1');
        expect(published.statusCode, `publish with Redis ${state}`).toBe(503);
        expect(published.json().error.code).toBe('HERALD_ERR_UNAVAILABLE');
        const key = await pub.app.inject({
          method: 'GET',
          url: '/v1/push/vapid-public-key',
          headers: { authorization: 'Bearer pk1' },
        });
        // No VAPID key is configured: the route's own 404, which needs no Redis.
        expect(key.statusCode, `a route without Redis, Redis ${state}`).toBe(404);
      } finally {
        await resume();
      }
    }
  });
});

describe('HERALD_TRUSTED_PROXIES configuration', () => {
  it('takes addresses and CIDR ranges, none by default', () => {
    expect(parseEnv(publisherEnv, {}).HERALD_TRUSTED_PROXIES).toEqual([]);
    expect(
      parseEnv(publisherEnv, { HERALD_TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.1,fd00::/8' }).HERALD_TRUSTED_PROXIES,
    ).toEqual(['10.0.0.0/8', '192.0.2.1', 'fd00::/8']);
  });

  it.each(['loadbalancer', '10.0.0.0/33', '::1/129', '10.0.0.1/8/1', 'true'])(
    'refuses %j, naming the variable and the entry',
    (value) => {
      expect(() => parseEnv(publisherEnv, { HERALD_TRUSTED_PROXIES: value })).toThrow(
        new RegExp(`^HERALD_TRUSTED_PROXIES: "${value.replace(/[./]/g, '\\$&')}" is not an IP address or CIDR range$`),
      );
    },
  );
});

describe('HERALD_RATE_LIMIT configuration', () => {
  it('defaults to 6000 a minute', () => {
    expect(parseEnv(publisherEnv, {}).HERALD_RATE_LIMIT).toBe(6000);
  });

  it.each(['-1', '1.5', 'lots', '100/min'])('refuses %j with one line naming the variable', (value) => {
    expect(() => parseEnv(publisherEnv, { HERALD_RATE_LIMIT: value })).toThrow(
      /^HERALD_RATE_LIMIT: expected a whole number from 0 to 10000000$/,
    );
  });
});
