import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeChannelStatus } from '@herald/shared';
import { usePublisher } from '../helpers/publisher.js';

const ctx = usePublisher();

const BATCH_LIMIT = 1024 * 1024;

function post(body: unknown) {
  return ctx.pub.app.inject({
    method: 'POST',
    url: '/v1/notifications',
    headers: { 'content-type': 'application/json' },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function postBatch(body: unknown) {
  return ctx.pub.app.inject({
    method: 'POST',
    url: '/v1/notifications/batch',
    headers: { 'content-type': 'application/json' },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function getStatus(id: string) {
  return ctx.pub.app.inject({ method: 'GET', url: `/v1/notifications/${encodeURIComponent(id)}` });
}

/** The ids of the stream's entries, in stream order. */
async function streamIds(): Promise<{ streamId: string; id: string }[]> {
  const list = await ctx.pub.admin.xrange(ctx.pub.keys.stream, '-', '+');
  return list.map(([streamId, fields]) => {
    const decoded = decodeEntry(fields);
    if (!decoded.ok) throw decoded.error;
    return { streamId, id: decoded.notification.id };
  });
}

interface ErrorBody {
  error: { code: string; message: string; issues?: { path: string; message: string }[] };
}

/** {error: {code, message, issues?}} and nothing else inside `error`. */
function expectErrorObject(value: unknown): ErrorBody['error'] {
  const { error } = value as ErrorBody;
  expect(error).toBeTypeOf('object');
  const keys = Object.keys(error).sort();
  expect([
    ['code', 'message'],
    ['code', 'issues', 'message'],
  ]).toContainEqual(keys);
  expect(error.code).toMatch(/^HERALD_ERR_[A-Z_]+$/);
  expect(error.message).toBeTypeOf('string');
  expect(error.message.length).toBeGreaterThan(0);
  for (const issue of error.issues ?? []) {
    expect(Object.keys(issue).sort()).toEqual(['message', 'path']);
    expect(issue.path).toBeTypeOf('string');
    expect(issue.message).toBeTypeOf('string');
  }
  return error;
}

function expectErrorBody(body: unknown, code: string): ErrorBody['error'] {
  expect(Object.keys(body as object)).toEqual(['error']);
  const error = expectErrorObject(body);
  expect(error.code).toBe(code);
  return error;
}

const valid = { userId: 'u1', type: 'otp', body: 'Your code is 123456' };
const STREAM_ID = /^\d+-\d+$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function compareStreamIds(a: string, b: string): number {
  const [ams, aseq] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bms, bseq] = b.split('-').map(BigInt) as [bigint, bigint];
  return ams === bms ? Number(aseq - bseq) : Number(ams - bms);
}

describe('POST /v1/notifications/batch', () => {
  it('answers 202 with results in order for a mix of valid and invalid items, and appends the valid ones in order', async () => {
    const res = await postBatch({
      notifications: [
        { ...valid, id: 'b-0' },
        { ...valid, id: 'b-1', userId: '' },
        { ...valid, id: 'b-2', channels: ['sms'] },
        { ...valid, id: 'b-3', type: 'BAD', to: { email: 'nope' } },
        { ...valid, id: 'b-4', expiresAt: Date.now() + 60_000 },
        { ...valid, id: 'b-5', title: 'T'.repeat(201), channels: ['fax'] },
      ],
    });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(Object.keys(body)).toEqual(['results']);
    const { results } = body;
    expect(results).toHaveLength(6);

    const accepted = (id: string) => ({ id, streamId: expect.stringMatching(STREAM_ID), status: 'accepted' });
    expect(results[0]).toEqual(accepted('b-0'));
    expect(results[2]).toEqual(accepted('b-2'));
    expect(results[4]).toEqual(accepted('b-4'));
    for (const [index, paths] of [
      [1, ['notifications.1.userId']],
      [3, ['notifications.3.to.email', 'notifications.3.type']],
      [5, ['notifications.5.channels.0', 'notifications.5.title']],
    ] as const) {
      expect(Object.keys(results[index])).toEqual(['error']);
      const error = expectErrorObject(results[index]);
      expect(error.code).toBe('HERALD_ERR_VALIDATION');
      const got = error.issues!.map((i) => i.path);
      for (const path of got) expect(path.startsWith(`notifications.${index}.`)).toBe(true);
      expect(got.sort()).toEqual([...paths]);
    }

    const stream = await streamIds();
    expect(stream).toEqual([0, 2, 4].map((i) => ({ streamId: results[i].streamId, id: results[i].id })));
    const sids = stream.map((e) => e.streamId);
    expect([...sids].sort(compareStreamIds)).toEqual(sids);
  });

  it('names an unknown field of an item by its path under notifications.<index>.', async () => {
    const res = await postBatch({
      notifications: [
        { ...valid, id: 'u-0' },
        { ...valid, id: 'u-1', extra: true },
      ],
    });
    expect(res.statusCode).toBe(202);
    const error = expectErrorObject(res.json().results[1]);
    expect(error.code).toBe('HERALD_ERR_VALIDATION');
    expect(error.issues!.map((i) => i.path)).toEqual(['notifications.1.extra']);
  });

  it('answers 400 with the error shape and the results when no item is valid', async () => {
    const res = await postBatch({
      notifications: [
        { ...valid, body: '' },
        { ...valid, userId: 'u'.repeat(129) },
      ],
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['error', 'results']);
    const error = expectErrorObject(body);
    expect(error.code).toBe('HERALD_ERR_VALIDATION');
    expect(error.issues!.map((i) => i.path)).toEqual(['notifications.0.body', 'notifications.1.userId']);
    expect(body.results).toEqual([
      {
        error: {
          code: 'HERALD_ERR_VALIDATION',
          message: expect.any(String),
          issues: [{ path: 'notifications.0.body', message: expect.any(String) }],
        },
      },
      {
        error: {
          code: 'HERALD_ERR_VALIDATION',
          message: expect.any(String),
          issues: [{ path: 'notifications.1.userId', message: expect.any(String) }],
        },
      },
    ]);
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(0);
  });

  it('reports an id published before as duplicate with the same streamId, and appends nothing for it', async () => {
    const first = await post({ ...valid, id: 'seen-1' });
    expect(first.statusCode).toBe(202);
    const res = await postBatch({
      notifications: [
        { ...valid, id: 'seen-1' },
        { ...valid, id: 'new-1' },
      ],
    });
    expect(res.statusCode).toBe(202);
    const { results } = res.json();
    expect(results[0]).toEqual({ id: 'seen-1', streamId: first.json().streamId, status: 'duplicate' });
    expect(results[1]).toEqual({ id: 'new-1', streamId: expect.stringMatching(STREAM_ID), status: 'accepted' });
    expect((await streamIds()).map((e) => e.id)).toEqual(['seen-1', 'new-1']);
  });

  it('answers 202 when every item is a duplicate', async () => {
    const first = await postBatch({ notifications: [{ ...valid, id: 'd-1' }] });
    const again = await postBatch({ notifications: [{ ...valid, id: 'd-1' }] });
    expect(again.statusCode).toBe(202);
    expect(again.json().results).toEqual([{ ...first.json().results[0], status: 'duplicate' }]);
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(1);
  });

  it('takes the same id twice in one batch as one notification: accepted, then duplicate, one entry', async () => {
    const res = await postBatch({
      notifications: [
        { ...valid, id: 'twice-1' },
        { ...valid, id: 'twice-1' },
      ],
    });
    expect(res.statusCode).toBe(202);
    const { results } = res.json();
    expect(results[0]).toEqual({ id: 'twice-1', streamId: expect.stringMatching(STREAM_ID), status: 'accepted' });
    expect(results[1]).toEqual({ id: 'twice-1', streamId: results[0].streamId, status: 'duplicate' });
    expect(await streamIds()).toEqual([{ id: 'twice-1', streamId: results[0].streamId }]);
  });

  it('reports HERALD_ERR_IDEMPOTENCY_MISMATCH for the same id twice in one batch with different content', async () => {
    const res = await postBatch({
      notifications: [
        { ...valid, id: 'mm-1' },
        { ...valid, id: 'mm-1', body: 'Another body' },
      ],
    });
    expect(res.statusCode).toBe(202);
    const { results } = res.json();
    expect(results[0]).toEqual({ id: 'mm-1', streamId: expect.stringMatching(STREAM_ID), status: 'accepted' });
    expect(Object.keys(results[1])).toEqual(['error']);
    expect(expectErrorObject(results[1]).code).toBe('HERALD_ERR_IDEMPOTENCY_MISMATCH');
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(1);
  });

  it('reports HERALD_ERR_IDEMPOTENCY_MISMATCH for an id published before with other content', async () => {
    await post({ ...valid, id: 'mm-2' });
    const res = await postBatch({
      notifications: [
        { ...valid, id: 'mm-2', title: 'Changed' },
        { ...valid, id: 'ok-2' },
      ],
    });
    expect(res.statusCode).toBe(202);
    const { results } = res.json();
    expect(expectErrorObject(results[0]).code).toBe('HERALD_ERR_IDEMPOTENCY_MISMATCH');
    expect(results[1].status).toBe('accepted');
    expect((await streamIds()).map((e) => e.id)).toEqual(['mm-2', 'ok-2']);
  });

  it.each([
    ['0 items', 0],
    ['1001 items', 1001],
  ])('answers 400 HERALD_ERR_VALIDATION for %s', async (_name, count) => {
    const res = await postBatch({
      notifications: Array.from({ length: count }, (_, i) => ({ ...valid, id: `c-${i}` })),
    });
    expect(res.statusCode).toBe(400);
    const error = expectErrorBody(res.json(), 'HERALD_ERR_VALIDATION');
    expect(error.issues!.map((i) => i.path)).toEqual(['notifications']);
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(0);
  });

  it('takes exactly 1000 items', async () => {
    const res = await postBatch({
      notifications: Array.from({ length: 1000 }, (_, i) => ({ ...valid, id: `k-${i}` })),
    });
    expect(res.statusCode).toBe(202);
    expect(res.json().results).toHaveLength(1000);
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(1000);
  });

  it.each([
    ['notifications missing', {}, ['notifications']],
    ['notifications not an array', { notifications: { a: 1 } }, ['notifications']],
    ['a body that is not an object', [valid], ['(body)']],
  ])('answers 400 HERALD_ERR_VALIDATION for %s', async (_name, body, paths) => {
    const res = await postBatch(body);
    expect(res.statusCode).toBe(400);
    const error = expectErrorBody(res.json(), 'HERALD_ERR_VALIDATION');
    expect(error.issues!.map((i) => i.path)).toEqual(paths);
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(0);
  });

  it('answers 400 HERALD_ERR_BAD_JSON for a malformed batch', async () => {
    const res = await postBatch('{"notifications": [');
    expect(res.statusCode).toBe(400);
    expectErrorBody(res.json(), 'HERALD_ERR_BAD_JSON');
  });

  it('refuses a batch body over 1 MiB with 413 and accepts a ~900 KiB one (over the 64 KiB single limit)', async () => {
    const item = (i: number) => ({ ...valid, id: `big-${i}`, body: 'b'.repeat(4000) });

    const tooBig = { notifications: Array.from({ length: 270 }, (_, i) => item(i)) };
    const tooBigJson = JSON.stringify(tooBig);
    expect(Buffer.byteLength(tooBigJson)).toBeGreaterThan(BATCH_LIMIT);
    const refused = await postBatch(tooBigJson);
    expect(refused.statusCode).toBe(413);
    expectErrorBody(refused.json(), 'HERALD_ERR_PAYLOAD_TOO_LARGE');
    expect(await ctx.pub.admin.xlen(ctx.pub.keys.stream)).toBe(0);

    const big = { notifications: Array.from({ length: 225 }, (_, i) => item(i)) };
    const bigJson = JSON.stringify(big);
    expect(Buffer.byteLength(bigJson)).toBeGreaterThan(850 * 1024);
    expect(Buffer.byteLength(bigJson)).toBeLessThan(BATCH_LIMIT);
    const res = await postBatch(bigJson);
    expect(res.statusCode).toBe(202);
    const { results } = res.json();
    expect(results.map((r: { status: string }) => r.status)).toEqual(Array(225).fill('accepted'));
    const stream = await streamIds();
    expect(stream.map((e) => e.id)).toEqual(big.notifications.map((n) => n.id));
    expect(stream.map((e) => e.streamId)).toEqual(results.map((r: { streamId: string }) => r.streamId));
  });

  it('takes a batch body of exactly 1 MiB and refuses one byte more', async () => {
    const json = JSON.stringify({ notifications: [{ ...valid, id: 'edge-1' }] });
    const exact = json + ' '.repeat(BATCH_LIMIT - Buffer.byteLength(json));
    const over = await postBatch(exact + ' ');
    expect(over.statusCode).toBe(413);
    expectErrorBody(over.json(), 'HERALD_ERR_PAYLOAD_TOO_LARGE');
    const res = await postBatch(exact);
    expect(res.statusCode).toBe(202);
  });
});

describe('GET /v1/notifications/:id', () => {
  it('answers the record with every channel pending after a publish', async () => {
    const before = Date.now();
    const published = await post({ ...valid, id: 'st-1', channels: ['email'] });
    const after = Date.now();
    expect(published.statusCode).toBe(202);
    const res = await getStatus('st-1');
    expect(res.statusCode).toBe(200);
    const view = res.json();
    expect(view.createdAt).toMatch(ISO);
    const createdMs = Date.parse(view.createdAt);
    expect(createdMs).toBeGreaterThanOrEqual(before);
    expect(createdMs).toBeLessThanOrEqual(after);
    const pending = { state: 'pending', attempts: 0, updatedAt: view.createdAt };
    expect(view).toEqual({
      id: 'st-1',
      userId: 'u1',
      type: 'otp',
      streamId: published.json().streamId,
      createdAt: view.createdAt,
      channels: { email: pending, sms: pending, push: pending },
    });
  });

  it('shows a status a worker wrote to the record, with an ISO updatedAt', async () => {
    await post({ ...valid, id: 'st-2' });
    const updatedAt = Date.now();
    await ctx.pub.admin.hset(
      ctx.pub.keys.notification('st-2'),
      's:email',
      encodeChannelStatus({ state: 'delivered', attempts: 1, providerId: 'abc', updatedAt }),
      's:sms',
      encodeChannelStatus({ state: 'skipped', attempts: 0, reason: 'no_recipient', updatedAt: updatedAt + 1 }),
    );
    const res = await getStatus('st-2');
    expect(res.statusCode).toBe(200);
    const view = res.json();
    expect(view.channels.email).toEqual({
      state: 'delivered',
      attempts: 1,
      providerId: 'abc',
      updatedAt: new Date(updatedAt).toISOString(),
    });
    expect(view.channels.sms).toEqual({
      state: 'skipped',
      attempts: 0,
      reason: 'no_recipient',
      updatedAt: new Date(updatedAt + 1).toISOString(),
    });
    expect(view.channels.push).toEqual({ state: 'pending', attempts: 0, updatedAt: view.createdAt });
  });

  it('answers ids with . _ : - in them', async () => {
    await post({ ...valid, id: 'order-42:shipped_v1.0' });
    const res = await getStatus('order-42:shipped_v1.0');
    expect(res.statusCode).toBe(200);
    expect(res.json().id).toBe('order-42:shipped_v1.0');
  });

  it('answers a published 128-character id (the longest the API accepts)', async () => {
    const id = 'x'.repeat(128);
    expect((await post({ ...valid, id })).statusCode).toBe(202);
    const res = await getStatus(id);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().id).toBe(id);
  });

  it('answers 404 HERALD_ERR_NOT_FOUND for an unknown id', async () => {
    const res = await getStatus('never-published');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const error = expectErrorBody(res.json(), 'HERALD_ERR_NOT_FOUND');
    expect(error.issues).toBeUndefined();
  });

  it.each([
    ['with a space', 'has space'],
    ['with a $', 'a$b'],
    ['with a slash (encoded)', 'a/b'],
    ['of 129 characters', 'y'.repeat(129)],
  ])('answers 404 HERALD_ERR_NOT_FOUND for an invalid id %s', async (_name, id) => {
    const res = await getStatus(id);
    expect(res.statusCode, res.body).toBe(404);
    const error = expectErrorBody(res.json(), 'HERALD_ERR_NOT_FOUND');
    expect(error.issues).toBeUndefined();
  });
});
