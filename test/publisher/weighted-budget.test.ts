import { describe, expect, it } from 'vitest';
import { usePublisher, type TestPublisher } from '../helpers/publisher.js';

/**
 * Issue 12: the rate limit counted requests while a batch carries up to 1000 notifications or
 * 1 MiB, so 240 batches added 289 MiB to Redis in 5.8 s. A batch now counts each notification
 * and each 64 KiB of body, and an operator can cap the records one key holds.
 */
const ctx = usePublisher({ HERALD_API_KEYS: 'pk1,pk2', HERALD_RATE_LIMIT: '1500' });

const item = (n: number, body = `Notification ${n}`) => ({ id: `w-${n}`, userId: `u${n % 10}`, type: 't', body });

function batch(pub: TestPublisher, notifications: object[], key = 'pk1') {
  return pub.app.inject({
    method: 'POST',
    url: '/v1/notifications/batch',
    headers: { authorization: `Bearer ${key}` },
    payload: { notifications },
  });
}

function publish(pub: TestPublisher, n: number, key = 'pk1') {
  return pub.app.inject({
    method: 'POST',
    url: '/v1/notifications',
    headers: { authorization: `Bearer ${key}` },
    payload: item(n),
  });
}

describe('the weighted budget (HERALD_RATE_LIMIT)', () => {
  it('counts each notification of a batch: a second batch of 1000 is refused with 429, appending nothing', async () => {
    const first = await batch(
      ctx.pub,
      Array.from({ length: 1000 }, (_, i) => item(i)),
    );
    expect(first.statusCode).toBe(202);
    const second = await batch(
      ctx.pub,
      Array.from({ length: 1000 }, (_, i) => item(1000 + i)),
    );
    expect(second.statusCode).toBe(429);
    expect(second.json().error).toMatchObject({
      code: 'HERALD_ERR_RATE_LIMITED',
      message: expect.stringContaining('a batch counts each notification'),
    });
    // 1500 a minute, one unit each 40 ms. Each batch counts 1000 notifications and 1 for its body
    // beyond the first 64 KiB (about 75 KiB here): 502 units past the budget are due within 20.08 s,
    // a Retry-After of 21 s when the second batch follows within 80 ms (as it does on a fast machine).
    expect(Number(second.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(second.headers['retry-after'])).toBeLessThanOrEqual(21);
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(1000);
    // What is left of the budget still serves single requests, and another key has its own.
    expect((await publish(ctx.pub, 5000)).statusCode).toBe(202);
    expect(
      (
        await batch(
          ctx.pub,
          Array.from({ length: 1000 }, (_, i) => item(3000 + i)),
          'pk2',
        )
      ).statusCode,
    ).toBe(202);
  });

  it('counts each 64 KiB of body beyond the first: 140 large notifications in 16 times 64 KiB count 155', async () => {
    const large = Array.from({ length: 140 }, (_, i) => ({
      ...item(i, 'x'.repeat(3900)),
      data: { pad: 'y'.repeat(990) },
      title: 'z'.repeat(200),
      url: `https://example.com/${'p'.repeat(2000)}`,
    }));
    const bytes = Buffer.byteLength(JSON.stringify({ notifications: large }));
    expect(Math.ceil(bytes / 65536)).toBe(16);
    await ctx.restart({ HERALD_RATE_LIMIT: '154' });
    const over = await batch(ctx.pub, large);
    expect(over.statusCode).toBe(413);
    expect(over.json().error.message).toMatch(
      /counts 155 against HERALD_RATE_LIMIT.*more than a whole minute's budget of 154/,
    );
    expect(await ctx.pub.admin.exists(ctx.pub.keys.stream)).toBe(0);
    await ctx.restart({ HERALD_RATE_LIMIT: '155' });
    expect((await batch(ctx.pub, large)).statusCode).toBe(202);
    expect((await publish(ctx.pub, 1)).statusCode).toBe(429);
  });
});

describe('HERALD_MAX_RECORDS_PER_KEY', () => {
  it('caps the records one key holds with 429 and Retry-After; retries of held ids and other keys are not held back', async () => {
    await ctx.restart({ HERALD_MAX_RECORDS_PER_KEY: '5', HERALD_IDEMPOTENCY_TTL_S: '2', HERALD_RETENTION_S: '2' });
    for (let n = 0; n < 4; n++) expect((await publish(ctx.pub, n)).statusCode).toBe(202);
    // All of a batch or none: 4 held and 2 more would pass 5.
    const refusedBatch = await batch(ctx.pub, [item(10), item(11)]);
    expect(refusedBatch.statusCode).toBe(429);
    expect(refusedBatch.json().error.message).toMatch(
      /holds 4 notification records and may hold 5 \(HERALD_MAX_RECORDS_PER_KEY\)/,
    );
    expect(Number(refusedBatch.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refusedBatch.headers['retry-after'])).toBeLessThanOrEqual(2);
    expect((await publish(ctx.pub, 4)).statusCode).toBe(202);
    expect((await publish(ctx.pub, 5)).statusCode).toBe(429);
    // A retry of a held id is no new record: answered as a duplicate, as without the cap.
    expect((await publish(ctx.pub, 4)).statusCode).toBe(200);
    expect((await publish(ctx.pub, 5, 'pk2')).statusCode).toBe(202);
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(6);
    // Once records expire, the key may hold new ones.
    await expect.poll(async () => (await publish(ctx.pub, 6)).statusCode, { timeout: 10_000, interval: 250 }).toBe(202);
  });
});
