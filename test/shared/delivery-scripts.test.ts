import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CLAIM_MARKS,
  RECORD_FIELDS,
  Scripts,
  claimField,
  decodeChannelStatus,
  makeKeys,
  redrivePassField,
  statusField,
  type ChannelStatus,
  type ClaimMark,
  type EntrySettlement,
} from '@herald/shared';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';

/** The delivery claim and settle scripts, run through the scripts module against a real Redis, one entry or a batch. */
const keys = makeKeys({ HERALD_STREAM: 'stream', HERALD_KEY_PREFIX: 'herald:' });
const MARKS: Record<string, ClaimMark> = { d: 'delivered', f: 'failed', r: 'release' };

let server: TestRedis;
let redis: Redis;
let scripts: Scripts;
/** The notification of the test, and its record. */
let id: string;
let record: string;
let counter = 0;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  scripts = new Scripts(redis, keys);
});
afterAll(async () => {
  redis.disconnect();
  await server.destroy();
});
beforeEach(() => {
  id = `n${++counter}`;
  record = keys.notification(id);
});

const LEASE = 10_000;
const claimWithPass = async (token: string, targets: string[], pass = 0, lease = LEASE) =>
  (await scripts.claimBatch('email', lease, 3600, [{ id, token, pass, targets }]))[0]!;
const claim = async (token: string, targets: string[], pass = 0, lease = LEASE) =>
  (await claimWithPass(token, targets, pass, lease)).slice(1);
/** One entry's settlement; marks as pairs of target and `d`, `f` or `r`. */
const settlement = (
  status: Partial<ChannelStatus> | undefined,
  marks: string[] = [],
  token = 'a',
  action: 'ack' | 'retry' | 'none' = 'none',
  streamId = '0-1',
  deadLetter: string[] = [],
  of = id,
): EntrySettlement => ({
  id: of,
  userId: 'u1',
  type: 'otp',
  ts: 1,
  streamId,
  token,
  status: status ? { attempts: 1, updatedAt: 1, state: 'pending', ...status } : undefined,
  action,
  marks: marks.flatMap((target, i) => (i % 2 === 0 ? [[target, MARKS[marks[i + 1]!]!] as const] : [])),
  deadLetter,
});
const settleBatch = (entries: EntrySettlement[]) => scripts.settleBatch('email', 'group', 'consumer', 3600, entries);
const settle = (...args: Parameters<typeof settlement>) => settleBatch([settlement(...args)]);
const state = async () => decodeChannelStatus((await redis.hget(record, statusField('email'))) ?? undefined);

describe('claim-batch-n.lua', () => {
  it('leases a target to one attempt at a time until the lease runs out', async () => {
    expect(await claim('a', ['email'], 0, 300)).toEqual(['ok']);
    // Another attempt (another replica, a duplicate entry, a later retry) waits for the lease.
    expect(await claim('b', ['email'])).toEqual(['busy']);
    // Once the lease has run out (a crashed sender), another attempt may claim.
    await waitFor(async () => (await claim('b', ['email'])).includes('ok'), { what: 'the lease to run out' });
    expect(await claim('a', ['email'])).toEqual(['busy']);
    expect(await redis.ttl(record)).toBeGreaterThan(0);
  });

  it('answers done for delivered targets, per target, until a later pass', async () => {
    await claim('a', ['push:1', 'push:2', 'push:3']);
    await settle({ state: 'retrying' }, ['push:1', 'd', 'push:2', 'f', 'push:3', 'r']);
    // Delivered holds; failed for good does not block a later claim (a replay filling gaps tries again).
    expect(await claim('b', ['push:1', 'push:2', 'push:3'])).toEqual(['done', 'ok', 'ok']);
    // A replay with resend (pass 1) no longer honours what pass 0 did.
    expect(await claim('c', ['push:1', 'push:2'], 1)).toEqual(['ok', 'ok']);
  });

  it("applies a redrive's pass from the record when it is later than the channel's", async () => {
    await claim('a', ['email']);
    await settle({ state: 'delivered' }, ['email', 'd']);
    expect(await claimWithPass('b', ['email'])).toEqual([0, 'done']);
    await redis.hset(record, redrivePassField('email'), '2');
    expect(await claimWithPass('b', ['email'])).toEqual([2, 'ok']);
  });

  it("releases only the attempt's own lease", async () => {
    await claim('a', ['email']);
    await settle({ state: 'retrying' }, ['email', 'r'], 'b');
    expect(await claim('c', ['email'])).toEqual(['busy']);
    await settle({ state: 'retrying' }, ['email', 'r'], 'a');
    expect(await claim('c', ['email'])).toEqual(['ok']);
  });
});

describe('settle-batch-3+n.lua: one atomic step per batch', () => {
  async function pendingEntry(): Promise<string> {
    await redis.del('stream', keys.deadLetters);
    const id = await redis.xadd('stream', '*', 'v', '1');
    await redis.xgroup('CREATE', 'stream', 'group', '0');
    await redis.xreadgroup('GROUP', 'group', 'consumer', 'COUNT', 1, 'STREAMS', 'stream', '>');
    return id!;
  }

  it('acknowledges with the outcome, dead letter included, in the same step', async () => {
    const id = await pendingEntry();
    await redis.del(keys.deadLetterCounts);
    await settle({ state: 'dead', reason: 'permanent' }, [], 'a', 'ack', id, [
      'channel',
      'email',
      'reason',
      'permanent',
    ]);
    expect(await redis.hget(keys.deadLetterCounts, 'email')).toBe('1');
    expect(((await redis.xpending('stream', 'group')) as [number])[0]).toBe(0);
    const [[, fields]] = (await redis.xrange(keys.deadLetters, '-', '+')) as [[string, string[]]];
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
    const [[, , idle, deliveries]] = (await redis.xpending('stream', 'group', '-', '+', 1)) as [
      [string, string, number, number],
    ];
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

describe('settle-batch-3+n.lua: status only moves forward', () => {
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
    expect(
      await redis.hmget(
        record,
        RECORD_FIELDS.userId,
        RECORD_FIELDS.type,
        RECORD_FIELDS.streamId,
        RECORD_FIELDS.createdAt,
      ),
    ).toEqual(['u1', 'otp', '0-1', '1']);
    expect(await redis.ttl(record)).toBeGreaterThan(3500);
  });
});

describe('the scripts over a batch of entries', () => {
  it('claims several records in one call, each on its own', async () => {
    const [first, second] = [keys.notification(`${id}:1`), keys.notification(`${id}:2`)];
    await redis.hset(second, claimField('email'), `${CLAIM_MARKS.delivered}0`, RECORD_FIELDS.userId, 'u2');
    const replies = await scripts.claimBatch('email', LEASE, 3600, [
      { id: `${id}:1`, token: 'a', pass: 0, targets: ['email'] },
      { id: `${id}:2`, token: 'b', pass: 0, targets: ['email', 'push:1'] },
    ]);
    expect(replies).toEqual([
      [0, 'ok'],
      [0, 'done', 'ok'],
    ]);
    // The record another producer's entry made expires; the publisher's keeps its own expiry.
    expect(await redis.ttl(first)).toBeGreaterThan(3500);
    expect(await redis.ttl(second)).toBe(-1);
  });

  it('settles a batch with one acknowledgement for all, a retry and a dead letter', async () => {
    await redis.del('stream', keys.deadLetters, keys.deadLetterCounts);
    const ids = await Promise.all([1, 2, 3].map(() => redis.xadd('stream', '*', 'v', '1')));
    await redis.xgroup('CREATE', 'stream', 'group', '0');
    await redis.xreadgroup('GROUP', 'group', 'consumer', 'COUNT', 3, 'STREAMS', 'stream', '>');
    const records = ids.map((_, i) => keys.notification(`${id}:${i}`));
    await settleBatch([
      settlement({ state: 'delivered' }, [], 'a', 'ack', ids[0]!, [], `${id}:0`),
      settlement({ state: 'retrying' }, [], 'b', 'retry', ids[1]!, [], `${id}:1`),
      settlement(
        { state: 'dead', reason: 'permanent' },
        [],
        'c',
        'ack',
        ids[2]!,
        ['channel', 'email', 'reason', 'permanent'],
        `${id}:2`,
      ),
    ]);
    const pending = (await redis.xpending('stream', 'group', '-', '+', 10)) as [string][];
    expect(pending.map(([id]) => id)).toEqual([ids[1]]);
    expect(await redis.xlen(keys.deadLetters)).toBe(1);
    expect(await redis.hget(keys.deadLetterCounts, 'email')).toBe('1');
    const states = await Promise.all(
      records.map(async (r) => decodeChannelStatus((await redis.hget(r, statusField('email'))) ?? undefined)?.state),
    );
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
        settleBatch(
          ids.map((streamId, i) => settlement({ state: 'delivered' }, [], 'a', 'ack', streamId!, [], `${id}:${i}`)),
        ),
      ).rejects.toThrow(/OOM/);
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
    expect(((await redis.xpending('stream', 'group')) as [number])[0]).toBe(2);
    expect(await redis.exists(keys.notification(`${id}:0`), keys.notification(`${id}:1`))).toBe(0);
  });
});
