import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkAnswer, checkStream } from '../helpers/hostile.js';
import { usePublisher } from '../helpers/publisher.js';
import { plainRequest, rawExchange } from '../helpers/raw-http.js';
import { anyText, fillPath, oddUnicode, paramValue, percentEncode, HOSTILE_ENV, credential } from './arbitraries.js';

/**
 * Property: whatever the method and the request target (percent-encoding valid or broken,
 * traversal, encoded slashes and NULs, raw bytes, targets of 16 KiB, queries of any shape), the
 * publisher answers 2xx or a 4xx in Herald's error shape, never 5xx, and the stream stays valid.
 * Over a real socket, byte for byte: an HTTP client would normalise or refuse most of these.
 * Paths made of words rarely match a route, so a second property takes each route the app has
 * and fills its parameters and query with hostile values.
 */
const ctx = usePublisher(HOSTILE_ENV, { perFile: true });
let port: number;
beforeAll(async () => {
  port = Number(new URL(await ctx.pub.listen()).port);
});

/** Words of the publisher's own paths, so that generated paths reach its routes, not only 404. */
const word = fc.constantFrom(
  'v1',
  'notifications',
  'batch',
  'users',
  'push-subscriptions',
  'push',
  'vapid-public-key',
  'groups',
  'email',
  'sms',
  'replay',
  'dead-letters',
  'redrive',
  'stream',
  'dashboard',
  'session',
  'outbox',
  'demo',
  'app.js',
  'healthz',
  'readyz',
  'metrics',
  'u1',
  '1-0',
);

const segment = fc.oneof(
  { weight: 6, arbitrary: word },
  { weight: 2, arbitrary: fc.oneof(anyText, oddUnicode).map(percentEncode) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '..',
      '.',
      '%2e%2e',
      '%2E%2e%2f',
      '%2f',
      '%5c',
      '..%2f..%2f',
      '%00',
      '%',
      '%zz',
      '%e2%82',
      '%c0%af',
      '%ff',
      ';',
      ';x=1',
      '~',
      '@',
      ':',
      '*',
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(' ', '\t', '\u0000', '\u007f', 'caf\u00e9', '\u00ff') },
  { weight: 1, arbitrary: fc.constantFrom(127, 128, 129, 384, 385, 4096, 16 * 1024).map((n) => 'a'.repeat(n)) },
);

const query = fc.oneof(
  fc.constant(''),
  fc
    .array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom('endpoint', 'limit', 'from', 'channel', 'after', '__proto__', 'constructor', 'endpoint[]'),
          anyText.map(percentEncode),
        ),
        fc.oneof(
          fc.constantFrom('0', '-1', '1e9', '$', '1-0', 'https%3A%2F%2Fpush.example.com%2Fx', '%', '', 'email'),
          anyText.map(percentEncode),
        ),
      ),
      { maxLength: 4 },
    )
    .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
  fc.constantFrom('?', '??', '?&&', '?a', '?a=1&a=2', '#fragment'),
);

const target = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(fc.array(segment, { minLength: 1, maxLength: 6 }), fc.constantFrom('/', '//', '/./'), query)
      .map(([segments, sep, q]) => `/${segments.join(sep)}${q}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '*',
      '/',
      '//',
      'http://127.0.0.1/v1/users/u1',
      'http://evil.example/healthz',
      'v1/users/u1',
      '/v1/users/u1#x',
      '/%',
      '/v1/users/%',
    ),
  },
);

const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND', 'PRI', 'get', 'M-SEARCH'),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,12}$/) },
);

const authorization = fc.oneof(fc.constantFrom('Bearer ak', 'Bearer ak', 'Bearer pk', undefined), credential);

/** Send `request` as written; it must be answered, each answer 2xx or a 4xx in the error shape. */
async function expectAnswered(verb: string, path: string, request: string | Buffer): Promise<void> {
  const responses = await rawExchange(port, request, { head: verb === 'HEAD', timeoutMs: 3000 });
  const what = `${verb} ${path.slice(0, 300)}`;
  expect(responses.length, `${what}: no answer`).toBeGreaterThan(0);
  for (const response of responses) checkAnswer(what, response.status, response.body, { head: verb === 'HEAD' });
}

describe('any method and path', () => {
  it('answers 2xx or a 4xx in the error shape, never 5xx; the stream stays valid', async () => {
    await fc.assert(
      fc.asyncProperty(method, target, authorization, fc.boolean(), async (verb, path, auth, withBody) => {
        const body = withBody ? '{"userId":"u1","type":"otp","body":"hi","from":"$"}' : '';
        const request = Buffer.from(plainRequest(verb, path, { authorization: auth, body }), 'latin1');
        await expectAnswered(verb, path, request);
      }),
      { numRuns: 300 },
    );
    await checkStream(ctx.pub.admin, ctx.pub.keys);
  });
});

describe('every route, with any parameters and query', () => {
  it('answers 2xx or a 4xx in the error shape, never 5xx; the stream stays valid', async () => {
    // "METHOD /path/:param" strings rather than route objects, so a counterexample reads well.
    const routes = ctx.pub.routes.map((r) => `${String(r.method)} ${r.url}`);
    expect(routes.length).toBeGreaterThan(20);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.array(paramValue, { minLength: 1, maxLength: 3 }),
        query,
        authorization,
        async (route, params, q, auth) => {
          const [verb, pattern] = route.split(' ') as [string, string];
          const path = `${fillPath({ url: pattern }, params)}${q}`;
          const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(verb) ? '{}' : '';
          await expectAnswered(verb, path, plainRequest(verb, path, { authorization: auth, body }));
        },
      ),
      { numRuns: 300 },
    );
    await checkStream(ctx.pub.admin, ctx.pub.keys);
  });
});
