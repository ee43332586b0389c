import { describe, expect, it } from 'vitest';
import { usePublisher } from '../helpers/publisher.js';
import { waitFor } from '../helpers/wait-for.js';

const ctx = usePublisher({}, { perFile: true });

const notification = { userId: 'u1', type: 'otp', body: 'Your code is 123456' };

function publish(id?: string) {
  return ctx.pub.app.inject({
    method: 'POST',
    url: '/v1/notifications',
    headers: { 'content-type': 'application/json' },
    payload: { ...notification, ...(id ? { id } : {}) },
  });
}

// The rule is "503 within 2 s"; a refused or timed-out command answers well inside it.
const DEADLINE_MS = 2000;

describe('Redis unavailable', () => {
  it('answers 503 HERALD_ERR_UNAVAILABLE at once when Redis is stopped, and recovers when it is back', async () => {
    expect((await publish('before')).statusCode).toBe(202);
    await ctx.redis.stop();

    const started = Date.now();
    const res = await publish('during');
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS);
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toMatchObject({
      code: 'HERALD_ERR_UNAVAILABLE',
      message: expect.stringContaining('retry'),
    });

    const batch = await ctx.pub.app.inject({
      method: 'POST',
      url: '/v1/notifications/batch',
      headers: { 'content-type': 'application/json' },
      payload: { notifications: [notification] },
    });
    expect(batch.statusCode).toBe(503);
    const ready = await ctx.pub.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect((await ctx.pub.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await ctx.pub.app.inject({ method: 'GET', url: '/v1/users/u1' })).statusCode).toBe(503);

    await ctx.redis.start();
    // No restart of the publisher: its connection comes back by itself (the Redis restarted empty,
    // so the publish script is loaded again too).
    await waitFor(async () => (await publish('after')).statusCode === 202, { what: 'publishing to recover' });
    expect((await ctx.pub.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(1);
  });

  it('answers 503 within 2 s when Redis hangs, and recovers when it resumes', async () => {
    await waitFor(async () => (await publish()).statusCode === 202, { what: 'a working publisher' });
    ctx.redis.signal('SIGSTOP');
    try {
      const started = Date.now();
      const res = await publish('hung');
      expect(Date.now() - started).toBeLessThan(DEADLINE_MS);
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('HERALD_ERR_UNAVAILABLE');
    } finally {
      ctx.redis.signal('SIGCONT');
    }
    await waitFor(async () => (await publish('resumed')).statusCode === 202, { what: 'publishing to recover' });
  });
});
