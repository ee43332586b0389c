import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkAnswer, checkStream } from '../helpers/hostile.js';
import { usePublisher } from '../helpers/publisher.js';
import { rawExchange } from '../helpers/raw-http.js';
import { contentType, notificationLike, validRequests, HOSTILE_ENV, credential } from './arbitraries.js';

/**
 * Property: whatever headers arrive (Content-Type in any spelling, Content-Length that lies,
 * chunked framing gone wrong, credentials of every kind, control characters, headers over the
 * size limit), the publisher answers every request it gets with 2xx or a 4xx in Herald's error
 * shape, never 5xx, and appends only what decodes. Over a real socket, byte for byte: no HTTP
 * client would send most of these.
 */
const ctx = usePublisher(HOSTILE_ENV, { perFile: true });
let port: number;
beforeAll(async () => {
  port = Number(new URL(await ctx.pub.listen()).port);
});

const authorization = fc.oneof(
  { weight: 4, arbitrary: fc.constant('Bearer ak') },
  { weight: 1, arbitrary: fc.constant('Bearer pk') },
  { weight: 2, arbitrary: credential },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        'bearer ak',
        'Bearer ak ak',
        'Basic YWs6',
        'ak',
        'Bearer a\u00ffk',
        'Bearer ' + 'k'.repeat(5000),
      ),
      fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`),
      fc.string({ unit: 'binary-ascii', maxLength: 60 }),
    ),
  },
);

const headerName = fc
  .oneof(
    fc.constantFrom(
      'idempotency-key',
      'cookie',
      'x-herald-dashboard',
      'last-event-id',
      'content-encoding',
      'accept-encoding',
      'x-forwarded-for',
      'host',
      'upgrade',
      'expect',
      'range',
      'if-none-match',
      'te',
      'trailer',
    ),
    fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,24}$/),
    // Not a token: the parser must refuse it.
    fc.constantFrom('bad name', 'x:y', '', 'x\u0000', '\u00e9t\u00e9'),
  )
  .filter((name) => !/^(connection|content-length|transfer-encoding|authorization|content-type)$/i.test(name));

const headerValue = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'herald_session=' + 'a'.repeat(64),
      '1',
      '100-continue',
      'websocket',
      'gzip',
      'bytes=0-1',
      '0-0',
      '$',
      '1-0',
      'x'.repeat(17_000),
    ),
  },
  // obs-text (bytes 0x80 to 0xff) is allowed in a value; NUL, DEL and bare CR or LF are not.
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, '')) },
  { weight: 1, arbitrary: fc.constantFrom('\u0000', '\u007f', 'a\rb', 'caf\u00e9', '\u00ff\u00fe') },
);

/** How the body is framed: honestly, or in one of the ways a request smuggler or a broken client would. */
const framing = fc.constantFrom(
  'exact',
  'exact',
  'exact',
  'chunked',
  'short',
  'long',
  'both',
  'two-lengths',
  'bad-length',
  'bad-chunk',
  'none',
);

function frame(kind: string, body: Buffer): { headers: string[]; payload: Buffer; halfClose: boolean } {
  const length = body.length;
  switch (kind) {
    case 'exact':
      return { headers: [`Content-Length: ${length}`], payload: body, halfClose: false };
    case 'chunked':
      return {
        headers: ['Transfer-Encoding: chunked'],
        payload: Buffer.concat([Buffer.from(`${length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]),
        halfClose: false,
      };
    case 'short':
      return { headers: [`Content-Length: ${Math.floor(length / 2)}`], payload: body, halfClose: true };
    case 'long':
      return { headers: [`Content-Length: ${length + 10}`], payload: body, halfClose: true };
    case 'both':
      return { headers: [`Content-Length: ${length}`, 'Transfer-Encoding: chunked'], payload: body, halfClose: true };
    case 'two-lengths':
      return {
        headers: [`Content-Length: ${length}`, `Content-Length: ${length + 1}`],
        payload: body,
        halfClose: true,
      };
    case 'bad-length':
      return { headers: [`Content-Length: ${length}x`], payload: body, halfClose: true };
    case 'bad-chunk':
      return {
        headers: ['Transfer-Encoding: chunked'],
        payload: Buffer.concat([Buffer.from('zz\r\n'), body, Buffer.from('\r\n0\r\n\r\n')]),
        halfClose: true,
      };
    default:
      return { headers: [], payload: body, halfClose: true };
  }
}

describe('any headers', () => {
  it('on every route: every answer 2xx or a 4xx in the error shape, never 5xx; the stream stays valid', async () => {
    const targets = validRequests(ctx.pub.routes);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...targets),
        fc.option(authorization, { nil: undefined }),
        contentType,
        framing,
        fc.option(notificationLike, { nil: undefined }),
        fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }),
        async (target, auth, type, framingKind, notification, extra) => {
          const body = Buffer.from(notification ? JSON.stringify(notification) : target.body);
          const framed = frame(framingKind, body);
          const lines = [
            `${target.method} ${target.path} HTTP/1.1`,
            'Host: 127.0.0.1',
            ...(auth !== undefined ? [`Authorization: ${auth}`] : []),
            ...(type !== undefined ? [`Content-Type: ${type}`] : []),
            ...extra.map(([name, value]) => `${name}: ${value}`),
            ...framed.headers,
            'Connection: close',
          ];
          const request = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), framed.payload]);
          const responses = await rawExchange(port, request, {
            halfClose: framed.halfClose,
            head: target.method === 'HEAD',
            timeoutMs: 3000,
          });
          const what =
            `${target.method} ${target.path} framed ${framingKind} ` + `with ${JSON.stringify(extra).slice(0, 200)}`;
          expect(responses.length, `${what}: no answer`).toBeGreaterThan(0);
          for (const response of responses)
            checkAnswer(what, response.status, response.body, { head: target.method === 'HEAD' });
        },
      ),
      { numRuns: 300 },
    );
    await checkStream(ctx.pub.admin, ctx.pub.keys);
  });
});
