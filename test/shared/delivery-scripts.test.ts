import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeChannelStatus, encodeChannelStatus, type ChannelStatus } from '@herald/shared';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';

/** The delivery claim and settle scripts, run directly against a real Redis, one entry or a batch. */
const lua = (name: string) => readFileSync(new URL(`../../shared/src/lua/${name}`, import.meta.url), 'utf8');

type Scripted = Redis & {
  claim(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<[number, ...string[]][]>;
  settle(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
};

let server: TestRedis;
let redis: Scripted;
let record: string;
let counter = 0;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url) as Scripted;
  redis.defineCommand('claim', { lua: lua('claim-batch.lua') });
  redis.defineCommand('settle', { lua: lua('settle-batch.lua') });
});
afterAll(async () => {
  redis.disconnect();
  await server.destroy();
});
beforeEach(() => {
  record = `herald:{s}:n:${++counter}`;
});

const LEASE = 10_000;
const claimWithPass = async (token: string, fields: string[], pass = 0, lease = LEASE) =>
  (await redis.claim(1, record, lease, 3600, 'p:email', token, pass, fields.length, ...fields))[0]!;
const claim = async (token: string, fields: string[], pass = 0, lease = LEASE) => (await claimWithPass(token, fields, pass, lease)).slice(1);
/** One entry's part of a settle call, in settle-batch.lua's order. */
const settlePart = (
  status: Partial<ChannelStatus> | undefined,
  marks: string[] = [],
  token = 'a',
  action: 'ack' | 'retry' | 'none' = 'none',
  entryId = '0-1',
  letter: string[] = [],
) => [
  status ? encodeChannelStatus({ attempts: 1, updatedAt: 1, state: 'pending', ...status }) : '',
  token,
  'u1', 'otp', '1',
  entryId, action,
  marks.length / 2, ...marks,
  letter.length, ...letter,
];
const settleBatch = (parts: { record: string; args: (string | number)[] }[]) =>
  redis.settle(
    3 + parts.length,
    'stream', 'stream:dlq', 'stream:dlq:counts', ...parts.map((p) => p.record),
    'group', 'consumer', 3600, 's:email',
    ...parts.flatMap((p) => p.args),
  );
const settle = (...args: Parameters<typeof settlePart>) => settleBatch([{ record, args: settlePart(...args) }]);
const state = async () => decodeChannelStatus((await redis.hget(record, 's:email')) ?? undefined);

describe('claim-batch.lua', () => {
  it('leases a target to one attempt at a time until the lease runs out', async () => {
    expect(await claim('a', ['c:email'], 0, 300)).toEqual(['ok']);
    // Another attempt (another replica, a duplicate entry, a later retry) waits for the lease.
    expect(await claim('b', ['c:email'])).toEqual(['busy']);
    // Once the lease has run out (a crashed sender), another attempt may claim.
    await waitFor(async () => (await claim('b', ['c:email'])).includes('ok'), { what: 'the lease to run out' });
    expect(await claim('a', ['c:email'])).toEqual(['busy']);
    expect(await redis.ttl(record)).toBeGreaterThan(0);
  });

  it('answers done for delivered targets, per target, until a later pass', async () => {
    await claim('a', ['c:push:1', 'c:push:2', 'c:push:3']);
    await settle({ state: 'retrying' }, ['c:push:1', 'd', 'c:push:2', 'f', 'c:push:3', 'r']);
    // Delivered holds; failed for good does not block a later claim (a replay filling gaps tries again).
    expect(await claim('b', ['c:push:1', 'c:push:2', 'c:push:3'])).toEqual(['done', 'ok', 'ok']);
    // A replay with resend (pass 1) no longer honours what pass 0 did.
    expect(await claim('c', ['c:push:1', 'c:push:2'], 1)).toEqual(['ok', 'ok']);
  });

  it('applies a redrive\'s pass from the record when it is later than the channel\'s', async () => {
    await claim('a', ['c:email']);
    await settle({ state: 'delivered' }, ['c:email', 'd']);
    expect(await claimWithPass('b', ['c:email'])).toEqual([0, 'done']);
    await redis.hset(record, 'p:email', '2');
    expect(await claimWithPass('b', ['c:email'])).toEqual([2, 'ok']);
  });

  it('releases only the attempt\'s own lease', async () => {
    await claim('a', ['c:email']);
    await settle({ state: 'retrying' }, ['c:email', 'r'], 'b');
    expect(await claim('c', ['c:email'])).toEqual(['busy']);
    await settle({ state: 'retrying' }, ['c:email', 'r'], 'a');
    expect(await claim('c', ['c:email'])).toEqual(['ok']);
  });
});

describe('settle-batch.lua: one atomic step per batch', () => {
  async function pendingEntry(): Promise<string> {
    await redis.del('stream', 'stream:dlq');
    const id = await redis.xadd('stream', '*', 'v', '1');
    await redis.xgroup('CREATE', 'stream', 'group', '0');
    await redis.xreadgroup('GROUP', 'group', 'consumer', 'COUNT', 1, 'STREAMS', 'stream', '>');
    return id!;
  }

  it('acknowledges with the outcome, dead letter included, in the same step', async () => {
    const id = await pendingEntry();
    await redis.del('stream:dlq:counts');
    await settle({ state: 'dead', reason: 'permanent' }, [], 'a', 'ack', id, ['channel', 'email', 'reason', 'permanent']);
    expect(await redis.hget('stream:dlq:counts', 'email')).toBe('1');
    expect(((await redis.xpending('stream', 'group')) as [number])[0]).toBe(0);
    const [[, fields]] = (await redis.xrange('stream:dlq', '-', '+')) as [[string, string[]]];
    expect(fields).toEqual(['channel', 'email', 'reason', 'permanent']);
    expect((await state())?.state).toBe('dead');
  });

  it('restarts the idle time of an entry left to retry, so its backoff counts from the failure', async () => {
    const id = await pendingEntry();
    await waitFor(async () => {
      const [[, , idle]] = (await redis.xpending('stream', 'group', '-', '+', 1)) as [[string, string, number, number]];
      return idle >= 200;
    });
    await settle({ state: 'retrying' }, [], 'a', 'retry', id);
    const [[, , idle, deliveries]] = (await redis.xpending('stream', 'group', '-', '+', 1)) as [[string, string, number, number]];
    expect(idle).toBeLessThan(200);
    expect(deliveries).toBe(1);
  });

  it('changes nothing when Redis is out of memory: no acknowledgement without the outcome', async () => {
    const id = await pendingEntry();
    await redis.config('SET', 'maxmemory', '1');
    try {
      await expect(settle({ state: 'delivered' }, [], 'a', 'ack', id)).rejects.toThrow(/OOM/);
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
    expect(((await redis.xpending('stream', 'group')) as [number])[0]).toBe(1);
    expect(await state()).toBeUndefined();
  });
});

describe('settle-batch.lua: status only moves forward', () => {
  it.each([
    ['delivered', 'skipped', 'delivered'],
    ['dead', 'skipped', 'dead'],
    ['delivered', 'retrying', 'delivered'],
    ['delivered', 'dead', 'delivered'],
    ['dead', 'delivered', 'delivered'], // a replay filling the gap an outage left,
    ['retrying', 'pending', 'retrying'],
    ['skipped', 'delivered', 'delivered'],
    ['skipped', 'retrying', 'retrying'],
    ['retrying', 'delivered', 'delivered'],
    ['retrying', 'retrying', 'retrying'],
  ] as const)('%s then %s stays %s', async (first, second, expected) => {
    await settle({ state: first });
    await settle({ state: second, attempts: 2 });
    expect((await state())?.state).toBe(expected);
  });

  it('lets a later pass replace a final state, and never an earlier pass', async () => {
    await settle({ state: 'delivered' });
    await settle({ state: 'retrying', pass: 1 });
    expect(await state()).toMatchObject({ state: 'retrying', pass: 1 });
    await settle({ state: 'skipped', pass: 0 });
    expect(await state()).toMatchObject({ state: 'retrying', pass: 1 });
  });

  it('gives a record made by a worker what the status view needs, and an expiry', async () => {
    await settle({ state: 'skipped', reason: 'opted_out' });
    expect(await redis.hmget(record, 'uid', 'type', 'sid', 'ts')).toEqual(['u1', 'otp', '0-1', '1']);
    expect(await redis.ttl(record)).toBeGreaterThan(3500);
  });
});

describe('the scripts over a batch of entries', () => {
  it('claims several records in one call, each on its own', async () => {
    const [first, second] = [`${record}:1`, `${record}:2`];
    await redis.hset(second, 'c:email', 'd0', 'uid', 'u2');
    const replies = await redis.claim(2, first, second, LEASE, 3600, 'p:email', 'a', 0, 1, 'c:email', 'b', 0, 2, 'c:email', 'c:push:1');
    expect(replies).toEqual([[0, 'ok'], [0, 'done', 'ok']]);
    // The record another producer's entry made expires; the publisher's keeps its own expiry.
    expect(await redis.ttl(first)).toBeGreaterThan(3500);
    expect(await redis.ttl(second)).toBe(-1);
  });

  it('settles a batch with one acknowledgement for all, a retry and a dead letter', async () => {
    await redis.del('stream', 'stream:dlq', 'stream:dlq:counts');
    const ids = await Promise.all([1, 2, 3].map(() => redis.xadd('stream', '*', 'v', '1')));
    await redis.xgroup('CREATE', 'stream', 'group', '0');
    await redis.xreadgroup('GROUP', 'group', 'consumer', 'COUNT', 3, 'STREAMS', 'stream', '>');
    const records = ids.map((_, i) => `${record}:${i}`);
    await settleBatch([
      { record: records[0]!, args: settlePart({ state: 'delivered' }, [], 'a', 'ack', ids[0]!) },
      { record: records[1]!, args: settlePart({ state: 'retrying' }, [], 'b', 'retry', ids[1]!) },
      { record: records[2]!, args: settlePart({ state: 'dead', reason: 'permanent' }, [], 'c', 'ack', ids[2]!, ['channel', 'email', 'reason', 'permanent']) },
    ]);
    const pending = (await redis.xpending('stream', 'group', '-', '+', 10)) as [string][];
    expect(pending.map(([id]) => id)).toEqual([ids[1]]);
    expect(await redis.xlen('stream:dlq')).toBe(1);
    expect(await redis.hget('stream:dlq:counts', 'email')).toBe('1');
    const states = await Promise.all(records.map(async (r) => decodeChannelStatus((await redis.hget(r, 's:email')) ?? undefined)?.state));
    expect(states).toEqual(['delivered', 'retrying', 'dead']);
  });

  it('changes nothing of a batch when Redis is out of memory', async () => {
    await redis.del('stream');
    const ids = await Promise.all([1, 2].map(() => redis.xadd('stream', '*', 'v', '1')));
    await redis.xgroup('CREATE', 'stream', 'group', '0');
    await redis.xreadgroup('GROUP', 'group', 'consumer', 'COUNT', 2, 'STREAMS', 'stream', '>');
    await redis.config('SET', 'maxmemory', '1');
    try {
      await expect(
        settleBatch(ids.map((id, i) => ({ record: `${record}:${i}`, args: settlePart({ state: 'delivered' }, [], 'a', 'ack', id!) }))),
      ).rejects.toThrow(/OOM/);
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
    expect(((await redis.xpending('stream', 'group')) as [number])[0]).toBe(2);
    expect(await redis.exists(`${record}:0`, `${record}:1`)).toBe(0);
  });
});
