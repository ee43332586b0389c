import { describe, expect, it } from 'vitest';
import { usePublisher } from '../helpers/publisher.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Live streams are capped per caller and in total, per publisher process (issue 12): each
 * holds a Redis connection and an HTTP connection for as long as its client stays.
 */
const ctx = usePublisher({
  HERALD_ADMIN_KEYS: 'ak1,ak2,ak3',
  HERALD_MAX_STREAMS: '3',
  HERALD_MAX_STREAMS_PER_KEY: '2',
});

function open(base: string, key: string): Promise<Response> {
  return fetch(`${base}/v1/stream`, { headers: { authorization: `Bearer ${key}` } });
}

/** A stream that must open: its response, whose body the test cancels to close it. */
async function opened(base: string, key: string): Promise<Response> {
  const res = await open(base, key);
  expect(res.status, `a stream for ${key}`).toBe(200);
  return res;
}

/** A stream that must be refused for the cap named `variable`. */
async function refused(base: string, key: string, variable: string): Promise<void> {
  const res = await open(base, key);
  expect(res.status, `a stream for ${key}`).toBe(429);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  expect(error.code).toBe('HERALD_ERR_RATE_LIMITED');
  expect(error.message).toContain(variable);
  expect(error.message).not.toContain(
    variable === 'HERALD_MAX_STREAMS' ? 'HERALD_MAX_STREAMS_PER_KEY' : 'HERALD_MAX_STREAMS ',
  );
}

/** Open a stream for `key` as soon as the publisher has seen a closed one go. */
async function openOnceFreed(base: string, key: string): Promise<Response> {
  return waitFor(
    async () => {
      const res = await open(base, key);
      if (res.status === 200) return res;
      await res.body?.cancel();
      return undefined;
    },
    { what: `a stream for ${key} once a slot is free` },
  );
}

describe('GET /v1/stream limits', () => {
  it('refuses a stream beyond HERALD_MAX_STREAMS_PER_KEY or HERALD_MAX_STREAMS with 429 naming the cap; a closed stream frees its slot', async () => {
    const base = await ctx.pub.listen();
    const streams: Response[] = [];
    try {
      streams.push(await opened(base, 'ak1'), await opened(base, 'ak1'));
      await refused(base, 'ak1', 'HERALD_MAX_STREAMS_PER_KEY');
      // Another key has slots of its own, up to the total.
      streams.push(await opened(base, 'ak2'));
      await refused(base, 'ak2', 'HERALD_MAX_STREAMS');
      await refused(base, 'ak3', 'HERALD_MAX_STREAMS');

      // Closing one of ak1's streams frees a slot in the total (ak3 takes it) and in ak1's share.
      await streams.shift()!.body!.cancel();
      streams.push(await openOnceFreed(base, 'ak3'));
      await refused(base, 'ak2', 'HERALD_MAX_STREAMS');
      await streams.pop()!.body!.cancel();
      streams.push(await openOnceFreed(base, 'ak1'));
      await refused(base, 'ak1', 'HERALD_MAX_STREAMS_PER_KEY');
    } finally {
      await Promise.all(streams.map((s) => s.body?.cancel()));
    }
  });

  it('counts neither a HEAD nor a refused `from`', async () => {
    const base = await ctx.pub.listen();
    const streams: Response[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const head = await fetch(`${base}/v1/stream`, { method: 'HEAD', headers: { authorization: 'Bearer ak1' } });
        expect(head.status).toBe(200);
        const bad = await fetch(`${base}/v1/stream?from=yesterday`, { headers: { authorization: 'Bearer ak1' } });
        expect(bad.status).toBe(400);
        await bad.body?.cancel();
      }
      streams.push(await opened(base, 'ak1'), await opened(base, 'ak1'));
    } finally {
      await Promise.all(streams.map((s) => s.body?.cancel()));
    }
  });
});
