import type { Redis } from 'ioredis';
import { CHANNELS, GROUPS, type Channel } from '@herald/client';
import type { Keys } from './layout/keys.js';
import { readStreamInfo, toRecord } from './redis-replies.js';
import { compareStreamIds, streamIdTime } from './stream-ids.js';
import type { GroupStatus } from '@herald/client';

/** Most entries counted one by one when Redis does not report a group's lag. */
const LAG_COUNT_LIMIT = 1_000_000;

/** XINFO GROUPS as records (empty when the stream does not exist). */
export async function streamGroups(redis: Redis, stream: string): Promise<Record<string, unknown>[]> {
  try {
    return ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map(toRecord);
  } catch (err) {
    if (String((err as Error).message).includes('no such key')) return [];
    throw err;
  }
}

/** Entries after `id` (exclusive; `[id` counts it too), counted in pages, up to LAG_COUNT_LIMIT. */
export async function countAfter(redis: Redis, stream: string, id: string, inclusive = false): Promise<number> {
  let count = 0;
  let start = inclusive ? id : `(${id}`;
  for (;;) {
    const page = (await redis.xrange(stream, start, '+', 'COUNT', 10_000)) as [string, string[]][];
    count += page.length;
    if (page.length < 10_000 || count >= LAG_COUNT_LIMIT) return count;
    start = `(${page[page.length - 1]![0]}`;
  }
}

/** The status of each channel's group (all three, in order). */
export async function readGroupStatus(
  redis: Redis,
  keys: Keys,
  channels: readonly Channel[] = CHANNELS,
): Promise<GroupStatus[]> {
  const [groups, stream] = await Promise.all([streamGroups(redis, keys.stream), readStreamInfo(redis, keys.stream)]);
  const last = stream?.['last-generated-id'];
  const lastGenerated = typeof last === 'string' ? last : '0-0';
  const counts = await redis.hgetall(keys.deadLetterCounts);
  const now = Date.now();
  return Promise.all(
    channels.map(async (channel): Promise<GroupStatus> => {
      const name = GROUPS[channel];
      const info = groups.find((g) => g.name === name);
      const deadLetters = Math.max(0, Number(counts[channel] ?? 0));
      if (!info) {
        return {
          channel,
          group: name,
          exists: false,
          consumers: [],
          pending: 0,
          lag: 0,
          entriesRead: null,
          lastDeliveredId: null,
          oldestPendingAgeMs: 0,
          deadLetters,
        };
      }
      const lastDeliveredId = String(info['last-delivered-id']);
      const [consumerRows, summary] = await Promise.all([
        redis.xinfo('CONSUMERS', keys.stream, name) as Promise<unknown[][]>,
        redis.xpending(keys.stream, name) as Promise<[number, string | null, string | null, unknown]>,
      ]);
      // Redis 7 reports the lag, except after SETID and some deletions: then count it. A group
      // that has read the newest entry has none, whatever Redis says: after a restart from the
      // AOF, Redis 7.0 forgets entries-read, counts again from the next read, and reports as lag
      // every entry read before the restart, for good (the chaos suite's Redis restart).
      const lag =
        compareStreamIds(lastDeliveredId, lastGenerated) >= 0
          ? 0
          : typeof info.lag === 'number'
            ? info.lag
            : await countAfter(redis, keys.stream, lastDeliveredId);
      const oldest = summary[1];
      return {
        channel,
        group: name,
        exists: true,
        consumers: consumerRows
          .map(toRecord)
          .map((c) => ({ name: String(c.name), pending: Number(c.pending), idleMs: Number(c.idle) })),
        pending: Number(summary[0]),
        lag,
        entriesRead: typeof info['entries-read'] === 'number' ? info['entries-read'] : null,
        lastDeliveredId,
        oldestPendingAgeMs: oldest ? Math.max(0, now - streamIdTime(oldest)) : 0,
        deadLetters,
      };
    }),
  );
}
