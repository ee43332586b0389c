import { describe, expect, it } from 'vitest';
import { decodeEntry } from '@herald/shared';
import { usePublisher } from '../helpers/publisher.js';

const ctx = usePublisher();

function post(body: unknown, headers: Record<string, string> = {}) {
  return ctx.pub.app.inject({
    method: 'POST',
    url: '/v1/notifications',
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function entries() {
  return ctx.pub.admin.xrange(ctx.pub.keys.stream, '-', '+');
}

const valid = { userId: 'u1', type: 'otp', body: 'Your code is 123456' };

describe('POST /v1/notifications', () => {
  it('appends one entry in the wire format and answers 202 {id, streamId}', async () => {
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    const res = await post({
      ...valid,
      id: 'n-1',
      title: 'Sign in',
      url: 'https://example.com/x',
      data: { a: 1 },
      channels: ['email', 'push'],
      to: { email: 'ada@example.com', phone: '+14155550123' },
      expiresAt,
    });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toEqual({ id: 'n-1', streamId: expect.stringMatching(/^\d+-\d+$/) });
    const list = await entries();
    expect(list).toHaveLength(1);
    const [streamId, fields] = list[0]!;
    expect(streamId).toBe(body.streamId);
    const record = Object.fromEntries(
      fields.reduce<string[][]>((acc, v, i) => (i % 2 ? acc : [...acc, [v, fields[i + 1]!]]), []),
    );
    expect(record).toMatchObject({
      v: '1',
      id: 'n-1',
      userId: 'u1',
      type: 'otp',
      channels: 'email,push',
      expiresAt: String(Date.parse(expiresAt)),
    });
    expect(JSON.parse(record.payload)).toEqual({
      title: 'Sign in',
      body: valid.body,
      url: 'https://example.com/x',
      data: { a: 1 },
    });
    expect(JSON.parse(record.to)).toEqual({ email: 'ada@example.com', phone: '+14155550123' });
    expect(Number(record.ts)).toBeGreaterThan(Date.now() - 10_000);
    const decoded = decodeEntry(fields);
    expect(decoded.ok).toBe(true);
  });

  it('generates a time-sortable id when none is given', async () => {
    const a = (await post(valid)).json();
    const b = (await post(valid)).json();
    expect(a.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(b.id > a.id).toBe(true);
    expect(await entries()).toHaveLength(2);
  });

  it('takes the id from Idempotency-Key when the body has none, and rejects a bad key', async () => {
    const res = await post(valid, { 'idempotency-key': 'order-42:shipped' });
    expect(res.statusCode).toBe(202);
    expect(res.json().id).toBe('order-42:shipped');
    const bad = await post(valid, { 'idempotency-key': 'has space' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.issues).toEqual([{ path: 'Idempotency-Key', message: expect.any(String) }]);
  });

  it('answers 200 with the same {id, streamId} for the same id and appends nothing', async () => {
    const first = await post({ ...valid, id: 'dup-1', data: { b: 2, a: 1 } });
    // Same notification: other key order, other whitespace.
    const second = await post(
      `{ "data": {"a":1,  "b":2}, "body": "${valid.body}", "type": "otp", "userId": "u1", "id": "dup-1" }`,
    );
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual(first.json());
    expect(await entries()).toHaveLength(1);
  });

  it('answers 409 HERALD_ERR_IDEMPOTENCY_MISMATCH for the same id with another notification', async () => {
    await post({ ...valid, id: 'mm-1' });
    const res = await post({ ...valid, id: 'mm-1', body: 'Another body' });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('HERALD_ERR_IDEMPOTENCY_MISMATCH');
    expect(await entries()).toHaveLength(1);
  });

  it('treats an id as new once its idempotency window has passed', async () => {
    await ctx.restart({ HERALD_IDEMPOTENCY_TTL_S: '1' });
    await post({ ...valid, id: 'ttl-1' });
    // Age the record instead of waiting: move its deadline into the past.
    await ctx.pub.admin.hset(ctx.pub.keys.notification('ttl-1'), 'iu', String(Date.now() - 1));
    const again = await post({ ...valid, id: 'ttl-1', body: 'Changed' });
    expect(again.statusCode).toBe(202);
    expect(await entries()).toHaveLength(2);
  });

  it('keeps the record for the longer of the idempotency and replay windows', async () => {
    await post({ ...valid, id: 'exp-1' });
    const ttl = await ctx.pub.admin.ttl(ctx.pub.keys.notification('exp-1'));
    expect(ttl).toBeGreaterThan(604_800 - 60);
    expect(ttl).toBeLessThanOrEqual(604_800);
  });

  it('appends exactly one entry for 50 concurrent requests with one id: one 202, the rest 200', async () => {
    const base = await ctx.pub.listen();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        fetch(`${base}/v1/notifications`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...valid, id: 'race-1' }),
        }),
      ),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(49);
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { streamId: string }[];
    expect(new Set(bodies.map((b) => b.streamId)).size).toBe(1);
    expect(await entries()).toHaveLength(1);
  });

  it('gives each of many requests arriving together its own outcome (they share one script call)', async () => {
    const base = await ctx.pub.listen();
    const send = (body: Record<string, unknown>) =>
      fetch(`${base}/v1/notifications`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await send({ ...valid, id: 'together-taken' });
    const { id: _id, ...withoutId } = valid as Record<string, unknown>;
    const responses = await Promise.all([
      ...Array.from({ length: 30 }, () => send(withoutId)),
      send({ ...valid, id: 'together-taken', body: 'Another body' }),
      send({ ...valid, id: 'together-taken' }),
    ]);
    expect(responses.map((r) => r.status)).toEqual([...Array<number>(30).fill(202), 409, 200]);
    const accepted = (await Promise.all(responses.slice(0, 30).map((r) => r.json()))) as {
      id: string;
      streamId: string;
    }[];
    // Generated ids are ULIDs, unique, and each names the entry it was appended as.
    expect(new Set(accepted.map((a) => a.id)).size).toBe(30);
    for (const a of accepted) expect(a.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    const byStreamId = new Map(
      (await entries()).map(([streamId, fields]) => [streamId, fields[fields.indexOf('id') + 1]]),
    );
    for (const a of accepted) expect(byStreamId.get(a.streamId)).toBe(a.id);
  });

  it('caps the stream with XADD MAXLEN ~', async () => {
    await ctx.restart({ HERALD_STREAM_MAXLEN: '1000' });
    const pipeline = [];
    for (let i = 0; i < 40; i++) {
      pipeline.push(
        ctx.pub.app.inject({
          method: 'POST',
          url: '/v1/notifications/batch',
          headers: { 'content-type': 'application/json' },
          payload: { notifications: Array.from({ length: 100 }, () => valid) },
        }),
      );
    }
    await Promise.all(pipeline);
    const length = await ctx.pub.admin.xlen(ctx.pub.keys.stream);
    // Approximate trimming works in whole macro nodes (100 entries by default).
    expect(length).toBeGreaterThanOrEqual(1000);
    expect(length).toBeLessThan(4000);
  });
});
