import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  createLogger,
  encodeDeadLetter,
  migrateDeadLetters,
  type DeadLetterView,
  type GroupStatus,
} from '@herald/shared';
import { useStack } from '../helpers/stack.js';

/**
 * Dead letters moved from `<stream>:dlq` to `{<stream>}:dlq` (the stream's Redis Cluster slot).
 * Letters an earlier version wrote are moved over by the workers, none lost, none doubled.
 */
const ctx = useStack();
const ADMIN = {};
const quiet = createLogger('test', 'silent');

function letter(channel: string, id: string): string[] {
  return encodeDeadLetter({ channel, streamId: '1-0', id, reason: 'permanent', attempts: 1, error: 'refused' }, [
    'v',
    '1',
    'id',
    id,
  ]);
}

/** Writes `count` letters where the earlier version kept them, with ids `<ms>-<i>`, and its counts. */
async function writeOldLetters(redis: Redis, count: number, ms: number): Promise<string[]> {
  const { keys } = ctx.stack.pub;
  const ids: string[] = [];
  const pipeline = redis.pipeline();
  for (let i = 0; i < count; i++) {
    const id = `${ms}-${i}`;
    ids.push(id);
    pipeline.xadd(keys.legacyDeadLetters, id, ...letter(i % 2 ? 'sms' : 'email', `old-${ms}-${i}`));
  }
  pipeline.hincrby(keys.legacyDeadLetterCounts, 'email', Math.ceil(count / 2));
  pipeline.hincrby(keys.legacyDeadLetterCounts, 'sms', Math.floor(count / 2));
  await pipeline.exec();
  return ids;
}

async function deadLetterCounts(): Promise<Record<string, number>> {
  const res = await ctx.stack.pub.app.inject({ method: 'GET', url: '/v1/groups', headers: ADMIN });
  const { groups } = res.json<{ groups: GroupStatus[] }>();
  return Object.fromEntries(groups.map((g) => [g.channel, g.deadLetters]));
}

describe('dead letters of the earlier layout', () => {
  it("live in a key outside the stream's slot, and the new one shares it", () => {
    const { keys } = ctx.stack.pub;
    expect(keys.legacyDeadLetters).toBe(`${keys.stream}:dlq`);
    expect(keys.deadLetters).toBe(`{${keys.stream}}:dlq`);
  });

  it('are moved over by a worker that starts, keeping their ids and counts', async () => {
    const { stack } = ctx;
    const { admin, keys } = stack.pub;
    const ids = await writeOldLetters(admin, 5, 1000);
    // A count the old trimmer left without its letter stays in the total.
    await admin.hincrby(keys.legacyDeadLetterCounts, 'push', 1);

    await stack.spawnWorker('email');
    try {
      const res = await stack.pub.app.inject({ method: 'GET', url: '/v1/dead-letters', headers: ADMIN });
      const { deadLetters } = res.json<{ deadLetters: DeadLetterView[] }>();
      expect(deadLetters.map((l) => l.dlqId)).toEqual(ids);
      expect(deadLetters.map((l) => l.id)).toEqual(ids.map((id) => `old-${id}`));
      expect(await deadLetterCounts()).toMatchObject({ email: 3, sms: 2, push: 1 });
      expect(await admin.exists(keys.legacyDeadLetters, keys.legacyDeadLetterCounts)).toBe(0);
    } finally {
      await stack.stopWorkers();
    }
  });

  it('are each moved exactly once when replicas move them at the same time, after newer letters', async () => {
    const { admin, keys } = ctx.stack.pub;
    await admin.del(keys.deadLetters, keys.deadLetterCounts);
    // A worker of the new version dead-lettered first: the old letters are older, so they get new ids.
    await admin.xadd(keys.deadLetters, '5000-0', ...letter('email', 'new-1'));
    await admin.hincrby(keys.deadLetterCounts, 'email', 1);
    await writeOldLetters(admin, 250, 2000);

    const replicas = [1, 2, 3].map(() => new Redis(ctx.stack.redis.url));
    try {
      const moved = await Promise.all(replicas.map((r) => migrateDeadLetters(r, keys, quiet)));
      expect(moved.reduce((a, b) => a + b, 0)).toBe(250);
    } finally {
      for (const r of replicas) r.disconnect();
    }
    const rows = (await admin.xrange(keys.deadLetters, '-', '+')) as [string, string[]][];
    const notificationIds = rows.map(([, fields]) => fields[fields.indexOf('id') + 1]);
    expect(rows).toHaveLength(251);
    expect(new Set(notificationIds).size).toBe(251);
    expect(rows[0]![0]).toBe('5000-0');
    expect(await admin.hgetall(keys.deadLetterCounts)).toEqual({ email: '126', sms: '125' });
    expect(await admin.exists(keys.legacyDeadLetters, keys.legacyDeadLetterCounts)).toBe(0);
  });

  it('gives letters new ids, and loses none, when the new stream had a later letter that is gone now', async () => {
    const { admin, keys } = ctx.stack.pub;
    await admin.del(keys.deadLetters, keys.deadLetterCounts);
    // Dead-lettered by the new version, then redriven: the stream is empty, but its ids went past the old ones.
    await admin.xadd(keys.deadLetters, '9000-0', ...letter('email', 'redriven'));
    await admin.xdel(keys.deadLetters, '9000-0');
    await writeOldLetters(admin, 3, 3000);

    expect(await migrateDeadLetters(admin, keys, quiet)).toBe(3);
    const rows = (await admin.xrange(keys.deadLetters, '-', '+')) as [string, string[]][];
    expect(rows.map(([, fields]) => fields[fields.indexOf('id') + 1])).toEqual([
      'old-3000-0',
      'old-3000-1',
      'old-3000-2',
    ]);
    expect(rows.every(([id]) => Number(id.split('-')[0]) > 9000)).toBe(true);
    expect(await admin.exists(keys.legacyDeadLetters, keys.legacyDeadLetterCounts)).toBe(0);
  });
});
