import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Trimmer, createLogger, makeKeys, type Keys, type Logger } from '@herald/shared';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

/**
 * Macro nodes of 10 entries, so `XTRIM MINID ~` (which only removes whole nodes) trims to within
 * 10 entries of its bound, and the assertions can be exact.
 */
const NODE = 10;
/** Entry i of a test stream has the id `${T0 + i * 1000}-0`: one a second, from 2023-11-14. */
const T0 = 1_700_000_000_000;
const idAt = (i: number) => `${T0 + i * 1000}-0`;

let server: TestRedis;
const connections: Redis[] = [];

beforeAll(async () => {
  server = await startRedis({ args: ['--stream-node-max-entries', String(NODE)] });
});
afterEach(() => {
  for (const c of connections.splice(0)) c.disconnect();
});
afterAll(async () => {
  await server?.destroy();
});

function connect(): Redis {
  const redis = new Redis(server.url);
  connections.push(redis);
  return redis;
}

function freshKeys(): Keys {
  const unique = randomUUID().slice(0, 8);
  return makeKeys({ HERALD_STREAM: `trim:${unique}:notifications`, HERALD_KEY_PREFIX: `trim:${unique}:` });
}

/** Log lines (parsed JSON) written through a logger. */
function captureLogs(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  let rest = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      rest += chunk.toString();
      const parts = rest.split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('test', 'error', sink), lines };
}

interface Setup {
  redis: Redis;
  keys: Keys;
  registry: Registry;
  trimmer: Trimmer;
}

function setup(options: {
  retentionS: number;
  deadLetterMaxLen?: number;
  logger?: Logger;
  keys?: Keys;
  redis?: Redis;
}): Setup {
  const redis = options.redis ?? connect();
  const keys = options.keys ?? freshKeys();
  const registry = new Registry();
  const trimmer = new Trimmer({
    redis,
    keys,
    logger: options.logger ?? createLogger('test', 'silent'),
    retentionS: options.retentionS,
    deadLetterMaxLen: options.deadLetterMaxLen ?? 100_000,
    registry,
  });
  return { redis, keys, registry, trimmer };
}

/** Append `count` entries with ids idAt(from) .. idAt(from + count - 1); answers their ids. */
async function addEntries(redis: Redis, stream: string, count: number, from = 0): Promise<string[]> {
  const ids: string[] = [];
  const pipeline = redis.pipeline();
  for (let i = from; i < from + count; i++) {
    ids.push(idAt(i));
    pipeline.xadd(stream, idAt(i), 'v', '1', 'id', `n-${i}`, 'userId', 'u1', 'type', 'otp');
  }
  await pipeline.exec();
  return ids;
}

async function createGroup(redis: Redis, stream: string, group: string): Promise<void> {
  await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
}

/** XREADGROUP `count` new entries for `group`; answers their ids. */
async function readGroup(redis: Redis, stream: string, group: string, count: number): Promise<string[]> {
  const reply = (await redis.xreadgroup('GROUP', group, 'c1', 'COUNT', count, 'STREAMS', stream, '>')) as
    [string, [string, string[]][]][] | null;
  return (reply?.[0]?.[1] ?? []).map(([id]) => id);
}

async function streamIds(redis: Redis, stream: string): Promise<string[]> {
  return ((await redis.xrange(stream, '-', '+')) as [string, string[]][]).map(([id]) => id);
}

/**
 * The exact invariant of `XTRIM MINID ~ bound`: what is left is a suffix of `ids` that holds
 * every entry from the bound on; and of the entries before the bound, only those sharing the
 * bound's macro node may stay. Answers how many were removed.
 */
async function expectTrimmedTo(redis: Redis, stream: string, ids: string[], boundIndex: number): Promise<number> {
  const left = await streamIds(redis, stream);
  const removed = ids.length - left.length;
  expect(left).toEqual(ids.slice(removed));
  expect(removed).toBeLessThanOrEqual(boundIndex);
  expect(removed).toBeGreaterThan(boundIndex - NODE);
  return removed;
}

async function gauge(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const out: Record<string, number> = {};
  for (const v of (await metric.get()).values) out[String(v.labels.group ?? '')] = v.value;
  return out;
}

async function counterValue(registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
}

describe('Trimmer: the stream', () => {
  it('trims below the slowest group: B stopped after 100, C has 120-149 pending; A read all', async () => {
    const { redis, keys, registry, trimmer } = setup({ retentionS: 0 });
    const s = keys.stream;
    for (const g of ['A', 'B', 'C']) await createGroup(redis, s, g);
    const ids = await addEntries(redis, s, 300);

    const readA = await readGroup(redis, s, 'A', 300);
    expect(readA).toHaveLength(300);
    await redis.xack(s, 'A', ...readA);
    const readB = await readGroup(redis, s, 'B', 100);
    await redis.xack(s, 'B', ...readB);
    const readC = await readGroup(redis, s, 'C', 150);
    await redis.xack(s, 'C', ...readC.slice(0, 120)); // 120-149 stay pending

    const result = await trimmer.runOnce();
    // B's last-delivered (entry 99) is before C's oldest pending (entry 120).
    expect(result.minId).toBe(ids[99]);
    const removed = await expectTrimmedTo(redis, s, ids, 99);
    expect(result.trimmed).toBe(removed);
    expect(removed).toBe(90); // whole nodes of 10: entries 0-89
    expect(await counterValue(registry, 'herald_stream_trimmed_total')).toBe(90);
    // Nothing a group had not read was lost: no eviction reported.
    expect(await gauge(registry, 'herald_stream_unread_evicted')).toEqual({ A: 0, B: 0, C: 0 });

    // Every entry C still has pending is there, and can be claimed and acknowledged.
    const pending = (await redis.xrange(s, ids[120]!, ids[149]!)) as [string, string[]][];
    expect(pending.map(([id]) => id)).toEqual(ids.slice(120, 150));
  });

  it("keeps every entry from a group's oldest pending entry on when that is the bound", async () => {
    const { redis, keys, trimmer } = setup({ retentionS: 0 });
    const s = keys.stream;
    for (const g of ['B', 'C']) await createGroup(redis, s, g);
    const ids = await addEntries(redis, s, 300);
    await redis.xack(s, 'B', ...(await readGroup(redis, s, 'B', 200)));
    const readC = await readGroup(redis, s, 'C', 150);
    await redis.xack(s, 'C', ...readC.slice(0, 125), ...readC.slice(140)); // 125-139 pending

    const result = await trimmer.runOnce();
    // C delivered up to 149, but 125 is still pending: the bound is 125, not 149.
    expect(result.minId).toBe(ids[125]);
    const removed = await expectTrimmedTo(redis, s, ids, 125);
    expect(result.trimmed).toBe(removed);
    expect(removed).toBe(120);
  });

  it('a stopped group that read nothing keeps everything, however far time moves', async () => {
    const { redis, keys, trimmer } = setup({ retentionS: 0 });
    const s = keys.stream;
    await createGroup(redis, s, 'stopped');
    await createGroup(redis, s, 'busy');
    const ids = await addEntries(redis, s, 100);
    await redis.xack(s, 'busy', ...(await readGroup(redis, s, 'busy', 100)));

    const result = await trimmer.runOnce();
    expect(result).toMatchObject({ minId: '0-0', trimmed: 0 });
    const later = await trimmer.runOnce(Date.now() + 365 * 86_400_000);
    expect(later).toMatchObject({ minId: '0-0', trimmed: 0 });
    expect(await streamIds(redis, s)).toEqual(ids);
  });

  it('with no groups, only the retention window bounds it', async () => {
    const retentionS = 100;
    const { redis, keys, trimmer } = setup({ retentionS });
    const s = keys.stream;
    const ids = await addEntries(redis, s, 100); // T0 .. T0 + 99 s

    // At T0 + 100 s, nothing is older than the window yet.
    const early = await trimmer.runOnce(T0 + retentionS * 1000);
    expect(early).toMatchObject({ minId: `${T0}-0`, trimmed: 0 });
    expect(await streamIds(redis, s)).toEqual(ids);

    // At T0 + 150 s, entries before T0 + 50 s are past the window.
    const result = await trimmer.runOnce(T0 + 150_000);
    expect(result.minId).toBe(ids[50]);
    const removed = await expectTrimmedTo(redis, s, ids, 50);
    expect(removed).toBe(50);
    expect(result.trimmed).toBe(50);

    // Running again at the same time changes nothing.
    expect(await trimmer.runOnce(T0 + 150_000)).toMatchObject({ trimmed: 0 });
    expect(await streamIds(redis, s)).toEqual(ids.slice(50));
  });

  it('does nothing, and fails nothing, for a stream that does not exist', async () => {
    const { trimmer } = setup({ retentionS: 0 });
    expect(await trimmer.runOnce()).toMatchObject({ trimmed: 0, deadLettersDropped: 0 });
  });
});

describe('Trimmer: entries the MAXLEN cap evicted before a group read them', () => {
  it('a group that read 0 of 50: XADD MAXLEN = 10 evicts 40 unread; gauge 40 and an error log', async () => {
    const { logger, lines } = captureLogs();
    const { redis, keys, registry, trimmer } = setup({ retentionS: 604_800, logger });
    const s = keys.stream;
    await createGroup(redis, s, 'slow');
    await createGroup(redis, s, 'fast');
    await addEntries(redis, s, 49);
    await redis.xack(s, 'fast', ...(await readGroup(redis, s, 'fast', 49)));
    // The 50th append hits the cap: the 40 oldest go, none of which `slow` had read.
    await redis.xadd(s, 'MAXLEN', '=', 10, idAt(49), 'v', '1', 'id', 'n-49', 'userId', 'u1', 'type', 'otp');
    await redis.xack(s, 'fast', ...(await readGroup(redis, s, 'fast', 1)));
    expect(await redis.xlen(s)).toBe(10);

    await trimmer.runOnce();
    expect(await gauge(registry, 'herald_stream_unread_evicted')).toEqual({ slow: 40, fast: 0 });
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ group: 'slow', lost: 40 });
  });

  it('a group that read 5 of 50 before the cap evicted 40: 35 unread were lost', async () => {
    const { logger, lines } = captureLogs();
    const { redis, keys, registry, trimmer } = setup({ retentionS: 604_800, logger });
    const s = keys.stream;
    await createGroup(redis, s, 'slow');
    await addEntries(redis, s, 49);
    await redis.xack(s, 'slow', ...(await readGroup(redis, s, 'slow', 5)));
    await redis.xadd(s, 'MAXLEN', '=', 10, idAt(49), 'v', '1', 'id', 'n-49', 'userId', 'u1', 'type', 'otp');

    await trimmer.runOnce();
    expect(await gauge(registry, 'herald_stream_unread_evicted')).toEqual({ slow: 35 });
    expect(lines.filter((l) => l.level === 50)).toEqual([expect.objectContaining({ group: 'slow', lost: 35 })]);
  });

  it('reports no eviction when every group read past what was removed', async () => {
    const { logger, lines } = captureLogs();
    const { redis, keys, registry, trimmer } = setup({ retentionS: 604_800, logger });
    const s = keys.stream;
    await createGroup(redis, s, 'g');
    await addEntries(redis, s, 50);
    await redis.xack(s, 'g', ...(await readGroup(redis, s, 'g', 50)));
    await redis.xtrim(s, 'MAXLEN', '=', 10);

    await trimmer.runOnce();
    expect(await gauge(registry, 'herald_stream_unread_evicted')).toEqual({ g: 0 });
    expect(lines).toEqual([]);
  });
});

/** A dead letter as the settle script writes it: its own 6 fields, then the entry's. */
function letterFields(channel: string, i: number): string[] {
  // Laid out by hand: the letter's own fields, then the entry's.
  // prettier-ignore
  return [
    'channel', channel, 'streamId', idAt(i), 'id', `n-${i}`, 'reason', 'permanent', 'attempts', '1', 'error', 'x',
    'v', '1', 'id', `n-${i}`, 'userId', 'u1', 'type', 'otp', 'payload', '{"body":"hi"}', 'ts', String(T0 + i * 1000),
  ];
}

/** `channels[i]` is the channel of letter i, added at idAt(i); the counts hash is set to match. */
async function addDeadLetters(redis: Redis, keys: Keys, channels: string[]): Promise<string[]> {
  const pipeline = redis.pipeline();
  channels.forEach((channel, i) => pipeline.xadd(keys.deadLetters, idAt(i), ...letterFields(channel, i)));
  const counts: Record<string, number> = {};
  for (const c of channels) counts[c] = (counts[c] ?? 0) + 1;
  pipeline.hset(keys.deadLetterCounts, counts);
  await pipeline.exec();
  return channels.map((_, i) => idAt(i));
}

async function counts(redis: Redis, keys: Keys): Promise<Record<string, number>> {
  const raw = await redis.hgetall(keys.deadLetterCounts);
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
}

/** 12 email and 8 sms letters, interleaved. */
const channels = [
  'email',
  'email',
  'sms',
  'email',
  'sms',
  'email',
  'email',
  'sms',
  'email',
  'sms',
  'email',
  'sms',
  'email',
  'email',
  'sms',
  'email',
  'sms',
  'email',
  'sms',
  'email',
];

describe('Trimmer: dead letters', () => {
  it('drops the oldest past HERALD_DLQ_MAXLEN and decrements the counts per channel', async () => {
    const { redis, keys, trimmer } = setup({ retentionS: 3600, deadLetterMaxLen: 5 });
    const ids = await addDeadLetters(redis, keys, channels);
    expect(await counts(redis, keys)).toEqual({ email: 12, sms: 8 });

    const now = T0 + 60_000; // all within the window
    const result = await trimmer.runOnce(now);
    expect(result.deadLettersDropped).toBe(15);
    expect(await streamIds(redis, keys.deadLetters)).toEqual(ids.slice(15));
    const dropped = channels.slice(0, 15);
    expect(await counts(redis, keys)).toEqual({
      email: 12 - dropped.filter((c) => c === 'email').length,
      sms: 8 - dropped.filter((c) => c === 'sms').length,
    });
    expect(await counts(redis, keys)).toEqual({ email: 3, sms: 2 });

    // Again at the same time: nothing more to drop.
    expect((await trimmer.runOnce(now)).deadLettersDropped).toBe(0);

    // Past the window, every letter goes and the counts reach 0.
    const late = await trimmer.runOnce(T0 + 3600_000 + 86_400_000);
    expect(late.deadLettersDropped).toBe(5);
    expect(await redis.xlen(keys.deadLetters)).toBe(0);
    expect(await counts(redis, keys)).toEqual({ email: 0, sms: 0 });
  });

  it('drops the letters older than the retention window, under the cap too', async () => {
    const { redis, keys, trimmer } = setup({ retentionS: 10, deadLetterMaxLen: 100 });
    const ids = await addDeadLetters(redis, keys, channels);
    // At T0 + 20 s the window starts at T0 + 10 s: letters 0-9 are older.
    const result = await trimmer.runOnce(T0 + 20_000);
    expect(result.deadLettersDropped).toBe(10);
    expect(await streamIds(redis, keys.deadLetters)).toEqual(ids.slice(10));
    const left = channels.slice(10);
    expect(await counts(redis, keys)).toEqual({
      email: left.filter((c) => c === 'email').length,
      sms: left.filter((c) => c === 'sms').length,
    });

    const late = await trimmer.runOnce(T0 + 86_400_000);
    expect(late.deadLettersDropped).toBe(10);
    expect(await counts(redis, keys)).toEqual({ email: 0, sms: 0 });
  });
});

describe('Trimmer: safe in every replica at once', () => {
  it('two trimmers running together leave the same stream and dead letters as one, and no negative count', async () => {
    // Several rounds, the second trimmer starting a little later each time, to vary the interleaving.
    for (let round = 0; round < 12; round++) {
      const keys = freshKeys();
      const one = setup({ retentionS: 3600, deadLetterMaxLen: 5, keys });
      const two = setup({ retentionS: 3600, deadLetterMaxLen: 5, keys });
      const redis = one.redis;
      const s = keys.stream;
      await createGroup(redis, s, 'B');
      const ids = await addEntries(redis, s, 200);
      await redis.xack(s, 'B', ...(await readGroup(redis, s, 'B', 100)));
      const letters = await addDeadLetters(redis, keys, channels);

      const now = T0 + 60_000 + 3600_000; // the window starts at T0 + 60 s
      const first = one.trimmer.runOnce(now);
      for (let tick = 0; tick < round; tick++) await new Promise((resolve) => setImmediate(resolve));
      const [a, b] = await Promise.all([first, two.trimmer.runOnce(now)]);

      // Stream: the bound is min(B's last-delivered = 99, window = 60): entries 0-59 go.
      expect(a.minId).toBe(ids[60]);
      expect(b.minId).toBe(ids[60]);
      expect(await expectTrimmedTo(redis, s, ids, 60)).toBe(60);
      expect(a.trimmed + b.trimmed).toBe(60);

      // Dead letters: all 20 are older than the window (T0 .. T0 + 19 s), so all go exactly once.
      expect(a.deadLettersDropped + b.deadLettersDropped).toBe(20);
      expect(await redis.xlen(keys.deadLetters)).toBe(0);
      expect(await counts(redis, keys)).toEqual({ email: 0, sms: 0 });
      expect(letters).toHaveLength(20);
    }
  });

  it('two trimmers dropping past HERALD_DLQ_MAXLEN together keep exactly HERALD_DLQ_MAXLEN letters', async () => {
    for (let round = 0; round < 12; round++) {
      const keys = freshKeys();
      const one = setup({ retentionS: 3600, deadLetterMaxLen: 5, keys });
      const two = setup({ retentionS: 3600, deadLetterMaxLen: 5, keys });
      const redis = one.redis;
      const letters = await addDeadLetters(redis, keys, channels);

      const now = T0 + 60_000; // within the window: only the cap drops letters
      const first = one.trimmer.runOnce(now);
      for (let tick = 0; tick < round; tick++) await new Promise((resolve) => setImmediate(resolve));
      const [a, b] = await Promise.all([first, two.trimmer.runOnce(now)]);

      const left = await streamIds(redis, keys.deadLetters);
      expect({ round, left }).toEqual({ round, left: letters.slice(15) });
      expect(a.deadLettersDropped + b.deadLettersDropped).toBe(15);
      const c = await counts(redis, keys);
      expect(c.email).toBeGreaterThanOrEqual(0);
      expect(c.sms).toBeGreaterThanOrEqual(0);
      expect(c).toEqual({ email: 3, sms: 2 });
    }
  });
});
