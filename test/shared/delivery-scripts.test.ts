import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeChannelStatus, encodeChannelStatus, type ChannelStatus } from '@herald/shared';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';

/** The delivery claim and settle scripts, run directly against a real Redis. */
const lua = (name: string) => readFileSync(new URL(`../../shared/src/lua/${name}`, import.meta.url), 'utf8');

type Scripted = Redis & {
  claim(record: string, ...args: (string | number)[]): Promise<[number, ...string[]]>;
  settle(record: string, stream: string, dlq: string, counts: string, ...args: (string | number)[]): Promise<number>;
};

let server: TestRedis;
let redis: Scripted;
let record: string;
let counter = 0;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url) as Scripted;
  redis.defineCommand('claim', { numberOfKeys: 1, lua: lua('claim-1.lua') });
  redis.defineCommand('settle', { numberOfKeys: 4, lua: lua('settle-4.lua') });
});
afterAll(async () => {
  redis.disconnect();
  await server.destroy();
});
beforeEach(() => {
  record = `herald:{s}:n:${++counter}`;
});

const LEASE = 10_000;
const claimWithPass = (token: string, fields: string[], pass = 0, lease = LEASE) => redis.claim(record, token, lease, pass, 3600, 'p:email', ...fields);
const claim = async (token: string, fields: string[], pass = 0, lease = LEASE) => (await claimWithPass(token, fields, pass, lease)).slice(1);
const settle = (
  status: Partial<ChannelStatus> | undefined,
  marks: string[] = [],
  token = 'a',
  action: 'ack' | 'retry' | 'none' = 'none',
  entryId = '0-1',
  letter: string[] = [],
) =>
  redis.settle(
    record, 'stream', 'stream:dlq', 'stream:dlq:counts',
    's:email',
    status ? encodeChannelStatus({ attempts: 1, updatedAt: 1, state: 'pending', ...status }) : '',
    token,
    3600,
    'u1', 'otp', '1-0', '1',
    'group', 'consumer', entryId, action,
    marks.length / 2, ...marks,
    ...letter,
  );
const state = async () => decodeChannelStatus((await redis.hget(record, 's:email')) ?? undefined);

describe('claim-1.lua', () => {
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

describe('settle-4.lua: one atomic step per entry', () => {
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

describe('settle-4.lua: status only moves forward', () => {
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
    expect(await redis.hmget(record, 'uid', 'type', 'sid', 'ts')).toEqual(['u1', 'otp', '1-0', '1']);
    expect(await redis.ttl(record)).toBeGreaterThan(3500);
  });
});
