import fc from 'fast-check';
import type { RouteOptions } from 'fastify';
import { UserTokens } from '../../services/publisher/src/user-tokens.js';

/**
 * Generators of hostile input for the publisher's property tests: text a person would never
 * type, JSON nobody should send, and values next to every limit of the schema. Valid values are
 * mixed in so that some requests get through and the stream has something to check.
 */

/** Strings of any UTF-16 code units: lone surrogates, NUL, control and bidi characters included. */
export const anyText = fc.string({ unit: 'binary', maxLength: 80 });

/** Unicode that breaks naive code: combining marks, zero-width joiners, RTL overrides, line separators. */
export const oddUnicode = fc.constantFrom(
  '\u0000',
  '\ud800',
  '\udfff',
  '\ufeff',
  '\u202e',
  '\u2028',
  '\u2029',
  '👩‍👩‍👧‍👦',
  'e\u0301\u0301\u0301',
  '\u{10ffff}',
  '﷽',
  '\r\n',
  '%00',
  '${jndi:x}',
  '<script>',
  "'; DROP",
  '..\\..',
);

const nearLimit = (n: number) => fc.constantFrom(n - 1, n, n + 1).map((k) => 'x'.repeat(Math.max(0, k)));

/** A value for a field: mostly plausible, sometimes any JSON at all. */
const fieldValue = <T>(plausible: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 4, arbitrary: plausible }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) });

const someText = fc.oneof(
  anyText,
  oddUnicode,
  fc.tuple(anyText, oddUnicode, anyText).map((p) => p.join('')),
);

/** A field of a notification: usually valid, so that whole notifications get through, else hostile. */
const field = <T>(valid: fc.Arbitrary<T>, ...hostile: fc.Arbitrary<unknown>[]) =>
  fc.oneof(
    { weight: 8, arbitrary: valid },
    { weight: 1, arbitrary: fc.oneof(someText, ...hostile) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );

/** A notification as `POST /v1/notifications` takes it, often valid, often wrong in one or more fields. */
export const notificationLike: fc.Arbitrary<Record<string, unknown>> = fc
  .record(
    {
      id: field(fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/), nearLimit(128)),
      userId: field(
        fc.oneof(fc.stringMatching(/^u[a-z0-9]{0,8}$/), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 })),
        nearLimit(128),
      ),
      type: field(fc.constantFrom('otp', 'welcome', 'chat.message'), nearLimit(128)),
      title: field(fc.string({ unit: 'grapheme', maxLength: 40 }), nearLimit(200)),
      body: field(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), nearLimit(4000), fc.constant('')),
      url: field(fc.webUrl(), fc.constantFrom('javascript:alert(1)', 'https://', 'http://[::1', 'file:///etc/passwd')),
      data: field(
        fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
        nearLimit(1100).map((v) => ({ v })),
      ),
      channels: field(
        fc.subarray(['email', 'sms', 'push'], { minLength: 1 }),
        fc.array(fc.constantFrom('email', 'sms', 'push', 'fax', ''), { maxLength: 5 }),
      ),
      to: field(
        fc.record({ email: fc.emailAddress(), phone: fc.stringMatching(/^\+[1-9]\d{1,14}$/) }, { requiredKeys: [] }),
        fc.record(
          { email: someText, phone: fc.constantFrom('+', '+0123', '+1234567890123456', '14155550123') },
          { requiredKeys: [] },
        ),
      ),
      expiresAt: field(
        fc.integer({ min: Date.now() + 3_600_000, max: Date.now() + 1e9 }),
        fc.constantFrom(
          0,
          -1,
          Infinity,
          8.64e15 + 1,
          Number.MAX_SAFE_INTEGER,
          '2999-01-01T00:00:00Z',
          '2000-01-01T00:00:00Z',
          'tomorrow',
          1.5,
        ),
      ),
    },
    { requiredKeys: ['userId', 'type', 'body'] },
  )
  // Now and then a field the schema does not know, which makes the whole notification invalid.
  .chain((n) =>
    fc.oneof(
      { weight: 9, arbitrary: fc.constant(n) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }).map((unknownField) => ({ ...n, unknownField })) },
    ),
  );

/** A user as `PUT /v1/users/:userId` takes it, plausible or not. */
export const userLike = fc.record(
  {
    email: fieldValue(fc.oneof(fc.emailAddress(), someText)),
    phone: fieldValue(fc.oneof(fc.stringMatching(/^\+[1-9]\d{1,14}$/), someText)),
    locale: fieldValue(fc.oneof(fc.constantFrom('en', 'pt-BR', 'zh-Hant-TW'), someText, nearLimit(35))),
    preferences: fieldValue(
      fc.dictionary(
        fc.oneof(fc.constantFrom('*', 'otp', '__proto__', 'constructor'), someText),
        fc.record({ email: fc.boolean(), sms: fc.jsonValue() }, { requiredKeys: [] }),
        {
          maxKeys: 5,
        },
      ),
    ),
  },
  { requiredKeys: [] },
);

/** A browser push subscription, plausible or not. */
export const subscriptionLike = fc.record(
  {
    endpoint: fieldValue(
      fc.oneof(
        fc.webUrl({ validSchemes: ['https'] }),
        someText,
        fc.constantFrom('https://10.0.0.1/x', 'https://[::1]/x', 'https://localhost/x'),
      ),
    ),
    expirationTime: fieldValue(fc.oneof(fc.constant(null), fc.integer())),
    keys: fieldValue(
      fc.record(
        {
          p256dh: fc.oneof(fc.base64String({ maxLength: 100 }), someText, fc.constant(`B${'A'.repeat(86)}`)),
          auth: fc.oneof(fc.base64String({ maxLength: 30 }), someText, fc.constant('AAAAAAAAAAAAAAAAAAAAAA')),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
);

/** How deep to nest: shallow, a few thousand levels (where recursion overflows), or up to the body limit. */
const depth = fc.oneof(
  fc.integer({ min: 1, max: 100 }),
  fc.integer({ min: 100, max: 4000 }),
  fc.integer({ min: 4000, max: 30_000 }),
);

/**
 * JSON nested deep, as raw text (JSON.stringify would overflow the test's own stack): bare, as
 * a notification's `data`, `to`, `channels` or `title`, and as a batch item.
 */
export const deepJson = fc.tuple(depth, fc.constantFrom('[', '{"a":')).chain(([levels, open]) => {
  const nested = `${open.repeat(levels)}${open === '[' ? '' : '1'}${(open === '[' ? ']' : '}').repeat(levels)}`;
  return fc.constantFrom(
    nested,
    `{"userId":"u","type":"t","body":"b","data":{"x":${nested}}}`,
    `{"userId":"u","type":"t","body":"b","to":${nested}}`,
    `{"userId":"u","type":"t","body":"b","channels":${nested}}`,
    `{"userId":"u","type":"t","body":"b","title":${nested}}`,
    `{"notifications":[${nested}]}`,
    `{"notifications":[{"userId":"u","type":"t","body":"b","data":{"x":${nested}}}]}`,
    `{"email":${nested},"preferences":{"*":${nested}}}`,
    `{"endpoint":"https://push.example.com/x","keys":${nested}}`,
  );
});

/** A request body as sent: JSON of a plausible shape, any JSON, broken JSON, or bytes. */
export const anyBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 4, arbitrary: notificationLike.map((n) => JSON.stringify(n)) },
  {
    weight: 2,
    arbitrary: fc.array(notificationLike, { maxLength: 5 }).map((notifications) => JSON.stringify({ notifications })),
  },
  { weight: 2, arbitrary: userLike.map((u) => JSON.stringify(u)) },
  { weight: 2, arbitrary: subscriptionLike.map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  {
    weight: 1,
    arbitrary: fc
      .record(
        {
          from: fc.oneof(
            fc.constantFrom('0', '$', '1-0', '9999999999999-0'),
            someText,
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          ),
          resend: fc.jsonValue(),
        },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v)),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"__proto__":{"admin":true},"userId":"u","type":"t","body":"b"}',
      '{"constructor":{"prototype":{"x":1}}}',
      '{"userId":"u","userId":"v","type":"t","body":"b"}',
      '{"body":1e999}',
      'null',
      '""',
      '[]',
      '{',
      '{"a":}',
      '\ufeff{}',
      '{}garbage',
    ),
  },
  { weight: 1, arbitrary: someText },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: deepJson },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(65 * 1024, 1024 * 1024 + 1)
      .map((n) => JSON.stringify({ userId: 'u', type: 't', body: 'x'.repeat(n) })),
  },
);

/** Content-Type values: JSON in every spelling, and what is not JSON. */
export const contentType = fc.oneof(
  { weight: 4, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      '',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'application/json;;;',
      'application/jsonx',
      'application/merge-patch+json',
      'text/plain',
      'text/html',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      '*/*',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

/** Values for a route's path parameters: valid ones, and any text. */
export const paramValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('u1', 'email', 'sms', 'push', '1-0', '0-1', 'n-1') },
  { weight: 1, arbitrary: fc.oneof(someText, nearLimit(128), nearLimit(129)).filter((s) => s.length > 0) },
);

/**
 * Percent-encode any string's UTF-8 bytes, as a client would (encodeURIComponent throws on a
 * lone surrogate; Buffer makes it U+FFFD, as it would reach the server anyway).
 */
export function percentEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

/** A valid value for each path parameter the publisher's routes have. */
export const VALID_PARAMS: Record<string, string> = { userId: 'u1', id: 'n-1', channel: 'email', dlqId: '1-0' };

/** The URL of a route with each `:param` valid (VALID_PARAMS); an unknown parameter fails loudly. */
export function validPath(route: Pick<RouteOptions, 'url'>): string {
  return route.url.replace(/:([A-Za-z]+)/g, (_match, name: string) => {
    const value = VALID_PARAMS[name];
    if (value === undefined) throw new Error(`no valid value for :${name} of ${route.url}: add one to VALID_PARAMS`);
    return value;
  });
}

/**
 * A request for each route in `routes` (HEAD included) with valid parameters and a valid body,
 * as a request line's method and target and the body to send (with the keys 'pk' and 'ak').
 */
export function validRequests(
  routes: readonly Pick<RouteOptions, 'method' | 'url'>[],
): { method: string; path: string; body: string }[] {
  const valid = JSON.stringify({ userId: 'u1', type: 'otp', body: 'Your code is 123456' });
  return routes.map((route) => ({
    method: String(route.method),
    path: validPath(route),
    body:
      route.url === '/v1/groups/:channel/replay'
        ? '{"from":"0"}'
        : route.url.startsWith('/dashboard/session')
          ? '{"key":"ak"}'
          : valid,
  }));
}

/** The URL of a route with each `:param` replaced by one of `values` in turn, percent-encoded. */
export function fillPath(route: Pick<RouteOptions, 'url'>, values: string[]): string {
  let i = 0;
  return route.url.replace(/:[A-Za-z]+/g, () => percentEncode(values[i++ % values.length] ?? 'x'));
}

/**
 * The publisher the hostile properties run against: an admin key, a publish key, a publish key
 * scoped to users `u*` (so u1 is inside it) and user tokens.
 */
const HOSTILE_TOKEN_SECRET = 'hostile-properties-token-secret-32+';
export const HOSTILE_ENV = {
  HERALD_API_KEYS: 'pk,sk:u*',
  HERALD_ADMIN_KEYS: 'ak',
  HERALD_USER_TOKEN_SECRETS: HOSTILE_TOKEN_SECRET,
};

/** A valid user token for u1 under HOSTILE_ENV, made as the publisher makes them. */
export const U1_TOKEN = new UserTokens([HOSTILE_TOKEN_SECRET], 900).issue('u1').token;

/**
 * Credentials of every kind the publisher knows (admin, publish and scoped keys, a user token)
 * and forgeries of each: tokens of another secret, tampered, cut short, for a user id of any shape.
 */
export const credential = fc.oneof(
  fc.constantFrom(
    'Bearer ak',
    'Bearer pk',
    'Bearer sk',
    `Bearer ${U1_TOKEN}`,
    `Bearer ${U1_TOKEN.slice(0, -2)}`,
    'Bearer hut1.',
    'Bearer hut1..',
    'Bearer hut1.e30.x',
  ),
  fc.tuple(anyText, fc.integer({ min: -1, max: 2 ** 40 })).map(([user, expires]) => {
    const payload = Buffer.from(JSON.stringify({ u: user, e: expires })).toString('base64url');
    return `Bearer hut1.${payload}.${U1_TOKEN.split('.')[2]}`;
  }),
  anyText.map((user) => `Bearer ${new UserTokens(['another-secret-of-at-least-32-chars'], 900).issue(user).token}`),
);
