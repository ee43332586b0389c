import { describe, expect, it } from 'vitest';
import { usePublisher } from '../helpers/publisher.js';

const ctx = usePublisher();

const BODY_LIMIT = 64 * 1024;

function post(body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return ctx.pub.app.inject({
    method: 'POST',
    url: '/v1/notifications',
    headers,
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function streamLength() {
  return ctx.pub.admin.xlen(ctx.pub.keys.stream);
}

interface ErrorBody {
  error: { code: string; message: string; issues?: { path: string; message: string }[] };
}

/** Every 4xx/5xx body is exactly {error: {code, message, issues?}}, issues being {path, message}. */
function expectErrorShape(body: unknown): ErrorBody {
  expect(body).toBeTypeOf('object');
  expect(Object.keys(body as object)).toEqual(['error']);
  const { error } = body as ErrorBody;
  const keys = Object.keys(error).sort();
  expect([
    ['code', 'message'],
    ['code', 'issues', 'message'],
  ]).toContainEqual(keys);
  expect(error.code).toMatch(/^HERALD_ERR_[A-Z_]+$/);
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  if (error.issues !== undefined) {
    expect(Array.isArray(error.issues)).toBe(true);
    for (const issue of error.issues) {
      expect(Object.keys(issue).sort()).toEqual(['message', 'path']);
      expect(typeof issue.path).toBe('string');
      expect(typeof issue.message).toBe('string');
      expect(issue.message.length).toBeGreaterThan(0);
    }
  }
  return body as ErrorBody;
}

/** A rejected request: its status, code, issue paths, the error shape, and an untouched stream. */
async function expectRejected(
  res: Awaited<ReturnType<typeof post>>,
  status: number,
  code: string,
  paths: string[] | undefined,
) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = expectErrorShape(res.json());
  expect(body.error.code).toBe(code);
  if (paths === undefined) {
    expect(body.error.issues).toBeUndefined();
  } else {
    expect(body.error.issues?.map((i) => i.path).sort()).toEqual([...paths].sort());
  }
  expect(await streamLength()).toBe(0);
  return body;
}

const valid = { userId: 'u1', type: 'otp', body: 'Your code is 123456' };
const future = () => new Date(Date.now() + 3_600_000).toISOString();

/** `data` whose JSON serialisation is exactly `bytes` bytes long. */
function dataOfBytes(bytes: number): Record<string, string> {
  const overhead = Buffer.byteLength(JSON.stringify({ x: '' }));
  const data = { x: 'a'.repeat(bytes - overhead) };
  expect(Buffer.byteLength(JSON.stringify(data))).toBe(bytes);
  return data;
}

describe('POST /v1/notifications: body parsing', () => {
  it('answers 400 HERALD_ERR_BAD_JSON for malformed JSON', async () => {
    await expectRejected(await post('{"userId": "u1", "type": '), 400, 'HERALD_ERR_BAD_JSON', undefined);
    await expectRejected(await post("{'userId': 'u1'}"), 400, 'HERALD_ERR_BAD_JSON', undefined);
  });

  it('says what breaks malformed JSON', async () => {
    const res = await post('{"userId": "u1", "type": }');
    expect(res.json().error.message).toMatch(/^The request body is not valid JSON: Unexpected token '}'/);
  });

  it('answers 400 HERALD_ERR_BAD_JSON for an empty body sent as JSON', async () => {
    await expectRejected(await post(''), 400, 'HERALD_ERR_BAD_JSON', undefined);
  });

  it('answers 400 naming the key, not 5xx, for a body with a __proto__ key', async () => {
    const res = await post(`{"__proto__": {"isAdmin": true}, "userId": "u1", "type": "otp", "body": "hi"}`);
    await expectRejected(res, 400, 'HERALD_ERR_VALIDATION', ['__proto__']);
    // And the prototype of plain objects was not touched.
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('answers 400 naming data, not 5xx, for data nested deeper than JSON.stringify can recurse', async () => {
    // Found by test/hostile/bodies.test.ts: the size check of `data` serialised it and overflowed the stack.
    const res = await post(
      `{"userId": "u1", "type": "otp", "body": "hi", "data": {"x": ${'['.repeat(5000)}${']'.repeat(5000)}}}`,
    );
    await expectRejected(res, 400, 'HERALD_ERR_VALIDATION', ['data']);
  });

  it('answers 400 naming the key, not 5xx, for a body with a constructor.prototype key', async () => {
    const res = await post(
      `{"constructor": {"prototype": {"isAdmin": true}}, "userId": "u1", "type": "otp", "body": "hi"}`,
    );
    await expectRejected(res, 400, 'HERALD_ERR_VALIDATION', ['constructor.prototype']);
  });

  it('names a refused key however deep it is, and a "constructor" without "prototype" is just a field', async () => {
    // Found by test/hostile/bodies.test.ts: the answer said "not valid JSON" for valid JSON.
    const res = await post(
      `{"userId": "u1", "type": "otp", "title": {"constructor": 1, "a": [{"__proto__": 0}]}, "body": "hi"}`,
    );
    await expectRejected(res, 400, 'HERALD_ERR_VALIDATION', ['title.a.0.__proto__']);
  });

  it('names a refused key nested as deep as a batch body allows, in linear time', async () => {
    // 450000 levels fill most of the 1 MiB batch limit. Building the path a level at a time from
    // the root (unshift) took some 10 s here, the publisher doing nothing else meanwhile.
    const levels = 450_000;
    const started = performance.now();
    const res = await ctx.pub.app.inject({
      method: 'POST',
      url: '/v1/notifications/batch',
      headers: { 'content-type': 'application/json' },
      payload: `{"notifications":${'['.repeat(levels)}{"__proto__":0}${']'.repeat(levels)}}`,
    });
    expect(performance.now() - started).toBeLessThan(3000);
    expect(res.statusCode).toBe(400);
    // The path is cut in its middle (an answer stays small): its start and its end name the key.
    const issues = res.json<ErrorBody>().error.issues!;
    expect(issues.map((i) => i.path)).toEqual([
      expect.stringMatching(/^notifications\.0\.0\.[0.]*…[0.]*\.0\.__proto__$/),
    ]);
    expect(res.payload.length).toBeLessThan(2000);
    expect(await streamLength()).toBe(0);
  });

  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['text/plain; charset=utf-8', { 'content-type': 'text/plain; charset=utf-8' }],
    ['application/x-www-form-urlencoded', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['no Content-Type', {}],
  ])('answers 415 HERALD_ERR_UNSUPPORTED_MEDIA_TYPE for %s', async (_name, headers: Record<string, string>) => {
    const res = await post(JSON.stringify(valid), headers);
    await expectRejected(res, 415, 'HERALD_ERR_UNSUPPORTED_MEDIA_TYPE', undefined);
  });

  it('answers 413 HERALD_ERR_PAYLOAD_TOO_LARGE for a body over 64 KiB', async () => {
    const res = await post({ ...valid, data: { x: 'a'.repeat(70_000) } });
    await expectRejected(res, 413, 'HERALD_ERR_PAYLOAD_TOO_LARGE', undefined);
  });

  it('takes a body of exactly 64 KiB and refuses one byte more', async () => {
    const json = JSON.stringify({ ...valid, id: 'limit-1' });
    const exact = json + ' '.repeat(BODY_LIMIT - Buffer.byteLength(json));
    expect(Buffer.byteLength(exact)).toBe(BODY_LIMIT);
    await expectRejected(await post(exact + ' '), 413, 'HERALD_ERR_PAYLOAD_TOO_LARGE', undefined);
    const res = await post(exact);
    expect(res.statusCode).toBe(202);
    expect(res.json().id).toBe('limit-1');
  });

  it('answers 404 HERALD_ERR_NOT_FOUND with the error shape for an unknown route', async () => {
    const res = await ctx.pub.app.inject({ method: 'GET', url: '/v1/nope?x=1' });
    await expectRejected(res, 404, 'HERALD_ERR_NOT_FOUND', undefined);
    expect(res.json().error.message).toContain('/v1/nope');
    expect(res.json().error.message).not.toContain('x=1');
    const post404 = await ctx.pub.app.inject({ method: 'POST', url: '/v2/notifications', payload: valid });
    await expectRejected(post404, 404, 'HERALD_ERR_NOT_FOUND', undefined);
  });
});

describe('POST /v1/notifications: schema', () => {
  const cases: [name: string, body: () => Record<string, unknown>, paths: string[]][] = [
    ['id with a space', () => ({ ...valid, id: 'has space' }), ['id']],
    ['id of 129 characters', () => ({ ...valid, id: 'a'.repeat(129) }), ['id']],
    ['id empty', () => ({ ...valid, id: '' }), ['id']],
    ['userId empty', () => ({ ...valid, userId: '' }), ['userId']],
    ['userId of 129 characters', () => ({ ...valid, userId: 'u'.repeat(129) }), ['userId']],
    ['userId missing', () => ({ type: 'otp', body: 'hi' }), ['userId']],
    // Each would be stored as "u\ufffd", the key of another user.
    ['userId with a lone high surrogate', () => ({ ...valid, userId: 'u\ud800' }), ['userId']],
    ['userId with a lone low surrogate', () => ({ ...valid, userId: 'u\udc00' }), ['userId']],
    ['type in upper case', () => ({ ...valid, type: 'OTP' }), ['type']],
    ['type of 129 characters', () => ({ ...valid, type: 't'.repeat(129) }), ['type']],
    ["type starting with '-'", () => ({ ...valid, type: '-otp' }), ['type']],
    ['title of 201 characters', () => ({ ...valid, title: 'T'.repeat(201) }), ['title']],
    ['body empty', () => ({ ...valid, body: '' }), ['body']],
    ['body of 4001 characters', () => ({ ...valid, body: 'b'.repeat(4001) }), ['body']],
    ['body not a string', () => ({ ...valid, body: 42 }), ['body']],
    ['url with ftp://', () => ({ ...valid, url: 'ftp://example.com/file' }), ['url']],
    ['url of 2049 characters', () => ({ ...valid, url: `https://example.com/${'a'.repeat(2049 - 20)}` }), ['url']],
    ['url not a URL', () => ({ ...valid, url: 'not a url' }), ['url']],
    ['data a string', () => ({ ...valid, data: 'text' }), ['data']],
    ['data an array', () => ({ ...valid, data: [1, 2] }), ['data']],
    ['data null', () => ({ ...valid, data: null }), ['data']],
    ['data of 1025 bytes as JSON', () => ({ ...valid, data: dataOfBytes(1025) }), ['data']],
    ['to.phone not E.164', () => ({ ...valid, to: { phone: '4155550123' } }), ['to.phone']],
    ['to.phone with a leading 0', () => ({ ...valid, to: { phone: '+04155550123' } }), ['to.phone']],
    ['to.email not an address', () => ({ ...valid, to: { email: 'not-an-email' } }), ['to.email']],
    ['expiresAt in the past (ISO)', () => ({ ...valid, expiresAt: '2020-01-01T00:00:00Z' }), ['expiresAt']],
    ['expiresAt in the past (epoch ms)', () => ({ ...valid, expiresAt: Date.now() - 60_000 }), ['expiresAt']],
    ['expiresAt garbage', () => ({ ...valid, expiresAt: 'tomorrow-ish' }), ['expiresAt']],
    ['expiresAt without a zone', () => ({ ...valid, expiresAt: '2999-01-01T00:00:00' }), ['expiresAt']],
    ['channels with an unknown channel', () => ({ ...valid, channels: ['email', 'fax'] }), ['channels.1']],
    ['channels with a duplicate', () => ({ ...valid, channels: ['email', 'email'] }), ['channels']],
    ['channels empty', () => ({ ...valid, channels: [] }), ['channels']],
    // zod reports unknown keys on the object holding them; the API should name the key itself.
    ['an unknown top-level field', () => ({ ...valid, extra: 1 }), ['extra']],
    ['an unknown field in to', () => ({ ...valid, to: { fax: '+14155550123' } }), ['to.fax']],
    ['body not an object', () => [valid] as unknown as Record<string, unknown>, ['(body)']],
  ];

  it.each(cases)('answers 400 HERALD_ERR_VALIDATION naming the field for %s', async (_name, body, paths) => {
    const res = await post(body());
    const error = await expectRejected(res, 400, 'HERALD_ERR_VALIDATION', paths);
    // The message repeats what the issues say.
    for (const issue of error.error.issues ?? []) expect(error.error.message).toContain(issue.path);
  });

  it('reports every wrong field at once', async () => {
    const res = await post({
      id: 'bad id',
      userId: '',
      type: 'OTP',
      body: '',
      url: 'ftp://x',
      channels: ['fax'],
      to: { email: 'nope', phone: '123' },
      expiresAt: 'garbage',
    });
    const paths = ['id', 'userId', 'type', 'body', 'url', 'channels.0', 'to.email', 'to.phone', 'expiresAt'];
    await expectRejected(res, 400, 'HERALD_ERR_VALIDATION', paths);
  });

  it.each<[name: string, body: () => Record<string, unknown>]>([
    ['a 128-character id', () => ({ ...valid, id: 'i'.repeat(128) })],
    ['a 128-character userId and type', () => ({ ...valid, userId: 'u'.repeat(128), type: 't'.repeat(128) })],
    ['a 4000-character body', () => ({ ...valid, body: 'b'.repeat(4000) })],
    ['a 200-character title', () => ({ ...valid, title: 'T'.repeat(200) })],
    ['a 2048-character url', () => ({ ...valid, url: `https://example.com/${'a'.repeat(2048 - 20)}` })],
    ['data of exactly 1024 bytes as JSON', () => ({ ...valid, data: dataOfBytes(1024) })],
    ['expiresAt as epoch ms in the future', () => ({ ...valid, expiresAt: Date.now() + 60_000 })],
    ['expiresAt as ISO with an offset', () => ({ ...valid, expiresAt: future().replace('Z', '+00:00') })],
    ['all three channels', () => ({ ...valid, channels: ['push', 'sms', 'email'] })],
    ['an empty to', () => ({ ...valid, to: {} })],
    ['a userId outside the Basic Multilingual Plane (a surrogate pair)', () => ({ ...valid, userId: 'u\u{1F600}' })],
  ])('accepts %s with 202', async (_name, body) => {
    const sent = body();
    const res = await post(sent);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ id: sent.id ?? expect.any(String), streamId: expect.stringMatching(/^\d+-\d+$/) });
    expect(await streamLength()).toBe(1);
  });
});
