import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeChannelStatus, encodeChannelStatus, type ChannelStatus } from '@herald/shared';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

/** The delivery claim and settle scripts, run directly against a real Redis. */
const lua = (name: string) => readFileSync(new URL(`../../shared/src/lua/${name}`, import.meta.url), 'utf8');

type Scripted = Redis & {
  claim(record: string, ...args: (string | number)[]): Promise<string[]>;
  settle(record: string, ...args: (string | number)[]): Promise<number>;
};

let server: TestRedis;
let redis: Scripted;
let record: string;
let counter = 0;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url) as Scripted;
  redis.defineCommand('claim', { numberOfKeys: 1, lua: lua('claim-1.lua') });
  redis.defineCommand('settle', { numberOfKeys: 1, lua: lua('settle-1.lua') });
});
afterAll(async () => {
  redis.disconnect();
  await server.destroy();
});
beforeEach(() => {
  record = `herald:{s}:n:${++counter}`;
});

const LEASE = 10_000;
const claim = (owner: string, now: number, fields: string[], pass = 0) => redis.claim(record, owner, now, LEASE, pass, 3600, ...fields);
const settle = (status: Partial<ChannelStatus> | undefined, marks: string[] = [], owner = 'a') =>
  redis.settle(
    record,
    's:email',
    status ? encodeChannelStatus({ attempts: 1, updatedAt: 1, state: 'pending', ...status }) : '',
    owner,
    3600,
    'u1', 'otp', '1-0', '1',
    ...marks,
  );
const state = async () => decodeChannelStatus((await redis.hget(record, 's:email')) ?? undefined);

describe('claim-1.lua', () => {
  it('leases a target to one owner at a time until the lease runs out', async () => {
    expect(await claim('a', 1000, ['c:email'])).toEqual(['ok']);
    expect(await claim('b', 2000, ['c:email'])).toEqual(['busy']);
    // The same owner may take its own lease again (after a wait, say).
    expect(await claim('a', 2000, ['c:email'])).toEqual(['ok']);
    // Once the lease has run out (a crashed sender), another owner may claim.
    expect(await claim('b', 2000 + LEASE + 1, ['c:email'])).toEqual(['ok']);
    expect(await redis.ttl(record)).toBeGreaterThan(0);
  });

  it('answers done and failed for settled targets, per target, until a later pass', async () => {
    await claim('a', 1000, ['c:push:1', 'c:push:2', 'c:push:3']);
    await settle({ state: 'retrying' }, ['c:push:1', 'd', 'c:push:2', 'f', 'c:push:3', 'r']);
    expect(await claim('b', 2000, ['c:push:1', 'c:push:2', 'c:push:3'])).toEqual(['done', 'failed', 'ok']);
    // A replay with resend (pass 1) no longer honours what pass 0 did.
    expect(await claim('b', 3000, ['c:push:1', 'c:push:2'], 1)).toEqual(['ok', 'ok']);
  });

  it('releases only the owner\'s own lease', async () => {
    await claim('a', 1000, ['c:email']);
    await settle({ state: 'retrying' }, ['c:email', 'r'], 'b');
    expect(await claim('c', 2000, ['c:email'])).toEqual(['busy']);
    await settle({ state: 'retrying' }, ['c:email', 'r'], 'a');
    expect(await claim('c', 2000, ['c:email'])).toEqual(['ok']);
  });
});

describe('settle-1.lua: status only moves forward', () => {
  it.each([
    ['delivered', 'skipped', 'delivered'],
    ['dead', 'skipped', 'dead'],
    ['delivered', 'retrying', 'delivered'],
    ['delivered', 'dead', 'delivered'],
    ['dead', 'delivered', 'dead'],
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
