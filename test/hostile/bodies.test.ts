import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERRORS, decodeEntry, isErrorCode } from '@herald/shared';
import { checkAnswer, checkStream } from '../helpers/hostile.js';
import { usePublisher } from '../helpers/publisher.js';
import {
  anyBody,
  contentType,
  deepJson,
  fillPath,
  notificationLike,
  paramValue,
  HOSTILE_ENV,
  U1_TOKEN,
} from './arbitraries.js';

/**
 * Property: whatever body arrives, on whichever route takes one, the publisher answers 2xx or a
 * 4xx in Herald's error shape, never 5xx, and appends to the stream only what decodes. Bodies go
 * through inject(): the socket is not the point here (see headers.test.ts and paths.test.ts).
 */
const ctx = usePublisher(HOSTILE_ENV, { perFile: true });
const admin = { authorization: 'Bearer ak' };
/**
 * Mostly the admin key, so bodies reach every route; also a scoped key and a user token, whose
 * checks meet hostile bodies too.
 */
const bodyCredential = fc.oneof(
  { weight: 3, arbitrary: fc.constant('Bearer ak') },
  { weight: 1, arbitrary: fc.constantFrom('Bearer sk', `Bearer ${U1_TOKEN}`) },
);

/** The entry a 2xx publish answer names: it must exist and decode as the notification sent. */
async function checkAppended(streamId: string, id: string, sent: Record<string, unknown>): Promise<void> {
  const [entry] = await ctx.pub.admin.xrange(ctx.pub.keys.stream, streamId, streamId);
  expect(entry, `entry ${streamId}`).toBeDefined();
  const decoded = decodeEntry(entry![1]);
  if (!decoded.ok) throw new Error(`entry ${streamId} does not decode: ${decoded.error.message}`);
  expect(decoded.notification.id).toBe(id);
  expect(decoded.notification.type).toBe(sent.type);
}

describe('any body', () => {
  it('on any route that takes one: 2xx or a 4xx in the error shape, never 5xx', async () => {
    // "METHOD /path/:param" strings rather than route objects, so a counterexample reads well.
    const routes = ctx.pub.routes
      .filter((r) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(String(r.method)))
      .map((r) => `${String(r.method)} ${r.url}`);
    expect(routes.length).toBeGreaterThan(5);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.array(paramValue, { minLength: 1, maxLength: 2 }),
        anyBody,
        contentType,
        bodyCredential,
        async (route, params, body, type, authorization) => {
          const [method, pattern] = route.split(' ') as [string, string];
          const url = fillPath({ url: pattern }, params);
          const res = await ctx.pub.app.inject({
            method: method as 'POST',
            url,
            headers: { authorization, ...(type !== undefined ? { 'content-type': type } : {}) },
            payload: body,
          });
          checkAnswer(`${method} ${url} (${String(type)})`, res.statusCode, res.body);
        },
      ),
      { numRuns: 300 },
    );
    await checkStream(ctx.pub.admin, ctx.pub.keys);
  });

  it('nested thousands of levels deep, on the routes that parse JSON: 2xx or a 4xx in the error shape', async () => {
    const routes = ['/v1/notifications', '/v1/notifications/batch', '/v1/users/u1', '/v1/users/u1/push-subscriptions'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), deepJson, async (url, body) => {
        const res = await ctx.pub.app.inject({
          method: url === '/v1/users/u1' ? 'PUT' : 'POST',
          url,
          headers: { ...admin, 'content-type': 'application/json' },
          payload: body,
        });
        checkAnswer(`${url} with ${body.length} bytes of nesting`, res.statusCode, res.body);
      }),
      { numRuns: 150 },
    );
    await checkStream(ctx.pub.admin, ctx.pub.keys);
  });

  it('on POST /v1/notifications: what is accepted is appended and decodes, what is refused appends nothing', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(notificationLike, async (notification) => {
        const before = await ctx.pub.admin.xlen(ctx.pub.keys.stream);
        const res = await ctx.pub.app.inject({
          method: 'POST',
          url: '/v1/notifications',
          headers: { ...admin, 'content-type': 'application/json' },
          payload: JSON.stringify(notification),
        });
        checkAnswer('POST /v1/notifications', res.statusCode, res.body);
        if (res.statusCode === 202) {
          accepted++;
          await checkAppended(res.json().streamId, res.json().id, notification);
        } else if (res.statusCode >= 400) {
          expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(before);
        }
      }),
      { numRuns: 300 },
    );
    // The generator is meant to get some through; if none were, the property proved little.
    expect(accepted).toBeGreaterThan(0);
    await checkStream(ctx.pub.admin, ctx.pub.keys);
  });

  it('on POST /v1/notifications/batch: each accepted item is appended and decodes, each refused one is an error', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(notificationLike, { minLength: 1, maxLength: 8 }), async (notifications) => {
        const before = await ctx.pub.admin.xlen(ctx.pub.keys.stream);
        const res = await ctx.pub.app.inject({
          method: 'POST',
          url: '/v1/notifications/batch',
          headers: { ...admin, 'content-type': 'application/json' },
          payload: JSON.stringify({ notifications }),
        });
        checkAnswer('POST /v1/notifications/batch', res.statusCode, res.body);
        // A body refused whole (a "__proto__" key anywhere, say) answers one error and appends nothing.
        if (res.statusCode >= 400) {
          expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(before);
          return;
        }
        const { results } = res.json<{
          results: ({ id: string; streamId: string; status: string } | { error: unknown })[];
        }>();
        expect(results).toHaveLength(notifications.length);
        // Exactly the accepted items were appended: not a refused one, even one the decoder would take.
        const appended = results.filter((r) => !('error' in r) && r.status === 'accepted').length;
        expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(before + appended);
        for (const [i, result] of results.entries()) {
          if ('error' in result) {
            const code = (result.error as { code?: string }).code;
            checkAnswer(`batch item ${i}`, isErrorCode(code) ? ERRORS[code].status : 400, JSON.stringify(result));
          } else if (result.status === 'accepted') {
            accepted++;
            await checkAppended(result.streamId, result.id, notifications[i]!);
          }
        }
      }),
      { numRuns: 150 },
    );
    expect(accepted).toBeGreaterThan(0);
    await checkStream(ctx.pub.admin, ctx.pub.keys);
  });
});
