import type { Redis } from 'ioredis';
import { readStreamInfo } from './redis-replies.js';

/**
 * Make a channel's consumer group at the start of the stream (and the stream, if nothing was
 * published yet), as the first worker of the channel or a replay before any worker does. What was
 * trimmed before is counted as read, so the group's lag is exact and the trimmer does not take
 * what retention removed earlier for an eviction. Answers false when the group already exists
 * (another replica, or a replay, made it first).
 */
export async function createGroupAtStart(redis: Redis, stream: string, group: string): Promise<boolean> {
  const info = await readStreamInfo(redis, stream);
  const removedBefore = info ? Math.max(0, Number(info['entries-added'] ?? 0) - Number(info.length ?? 0)) : 0;
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM', 'ENTRIESREAD', removedBefore);
    return true;
  } catch (err) {
    if (String((err as Error).message).startsWith('BUSYGROUP')) return false;
    throw err;
  }
}
