import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCRIPTS, Scripts, makeKeys, scriptFiles } from '@herald/shared';
import { clusterSlot } from '../helpers/cluster-slot.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Every key a script is given hashes to one Redis Cluster slot, so every script can run on a
 * cluster. Each script is called through the scripts module (the only code that builds their
 * keys) against a real Redis, and the keys are read off MONITOR, as Redis received them.
 */
const keys = makeKeys({ HERALD_STREAM: 'user:notifications', HERALD_KEY_PREFIX: 'herald:' });
const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const fileBySha = new Map(Object.values(SCRIPTS).map((s) => [sha1(s.lua), s.file]));

let server: TestRedis;
let redis: Redis;
let monitor: Redis;
/** Per script file, the keys of each call Redis received. */
const calls = new Map<string, string[][]>();

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  monitor = await new Redis(server.url).monitor();
  monitor.on('monitor', (_time: string, args: string[]) => {
    const command = args[0]?.toLowerCase();
    if (command !== 'evalsha' && command !== 'eval') return;
    const file =
      fileBySha.get(command === 'eval' ? sha1(unescapeMonitor(args[1]!)) : args[1]!) ??
      `unknown ${args[1]!.slice(0, 40)}`;
    calls.set(file, [...(calls.get(file) ?? []), args.slice(3, 3 + Number(args[2]))]);
  });
  await callEveryScript(new Scripts(redis, keys));
  await redis.ping('done');
  await waitFor(async () => calls.size >= Object.keys(SCRIPTS).length || undefined, {
    what: `MONITOR to report every script (so far ${[...calls.keys()].join(', ')})`,
  });
});
afterAll(async () => {
  monitor.disconnect();
  redis.disconnect();
  await server.destroy();
});

/** Each script once, with a batch of several items where it takes one key per item. */
async function callEveryScript(scripts: Scripts): Promise<void> {
  const ids = ['a', 'b', 'c'];
  await redis.xgroup('CREATE', keys.stream, 'g', '0', 'MKSTREAM');
  const attempts: Promise<unknown>[] = [
    scripts.claimBatch(
      'push',
      1000,
      60,
      ids.map((id) => ({ id, token: 't', pass: 0, targets: ['push:1', 'push:2'] })),
    ),
    scripts.settleBatch(
      'email',
      'g',
      'c',
      60,
      ids.map((id) => ({
        id,
        userId: 'u',
        type: 't',
        ts: 1,
        streamId: '1-0',
        token: 't',
        status: { state: 'dead', attempts: 1, updatedAt: 1 },
        action: 'ack',
        marks: [['email', 'failed']],
        deadLetter: ['channel', 'email'],
      })),
    ),
    scripts.deleteIdleConsumers('g', ['gone']),
    scripts.publishBatch(
      1000,
      60,
      1000,
      ids.map((id) => ({ id, fingerprint: 'f', now: 1, userId: 'u', type: 't', scope: '', fields: ['v', '1'] })),
    ),
    scripts.redrive({ dlqId: '1-0', channel: 'sms', id: 'a' }, 1, 1000, 60, ['v', '1']),
    scripts.dropDeadLetter('1-0', 'sms'),
    scripts.startPass('email', '1-0'),
    scripts.requestLimitBatch(60, [
      { caller: 'key:a', units: 1 },
      { caller: 'key:b', units: 1 },
    ]),
    scripts.holdRecords('key:a', 1, 2, 10, ids),
    scripts.addPushSubscription(
      'u',
      { endpoint: 'https://push.example/1', keys: { p256dh: 'p', auth: 'a' }, createdAt: 1 },
      5,
    ),
    scripts.rateLimit('sms', 10),
  ];
  // Only the keys matter here; each script's own tests check what it does.
  await Promise.allSettled(attempts);
}

describe('the scripts and their keys', () => {
  it('are every Lua file of the scripts folder, each named <name>-<keys>.lua', () => {
    expect(
      Object.values(SCRIPTS)
        .map((s) => s.file)
        .sort(),
    ).toEqual(scriptFiles());
  });

  it('are each called with keys of one cluster slot', () => {
    for (const file of scriptFiles()) {
      const keyLists = calls.get(file);
      expect(keyLists, `${file} was called`).toBeDefined();
      for (const given of keyLists!) {
        const slots = new Set(given.map(clusterSlot));
        expect(slots.size, `${file}: ${given.join(' ')} span slots ${[...slots].join(', ')}`).toBe(1);
      }
    }
    expect([...calls.keys()].filter((file) => file.startsWith('unknown'))).toEqual([]);
  });

  it("put the stream's companions in the stream's slot, unlike the dead letters' old key", () => {
    expect(clusterSlot(keys.stream)).toBe(14537);
    expect(clusterSlot(keys.deadLetters)).toBe(14537);
    expect(clusterSlot(keys.deadLetterCounts)).toBe(14537);
    expect(clusterSlot(keys.notification('x'))).toBe(14537);
    expect(clusterSlot(keys.legacyDeadLetters)).toBe(12140);
  });
});

/** MONITOR quotes arguments as Redis's sdscatrepr does: \\n, \\", \\\\, \\xNN. */
function unescapeMonitor(text: string): string {
  const named: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', '"': '"', '\\': '\\' };
  return text.replace(/\\(x[0-9a-f]{2}|.)/g, (_, c: string) =>
    c.length === 3 ? String.fromCharCode(parseInt(c.slice(1), 16)) : (named[c] ?? c),
  );
}
