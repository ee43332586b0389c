import type { Redis } from 'ioredis';
import { CHANNELS, toRecord } from '@herald/shared';

/** Lag and pending entries of every group on `stream`, by group name. */
export async function groupBacklog(redis: Redis, stream: string): Promise<Map<string, { lag: number; pending: number }>> {
  const rows = ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map(toRecord);
  return new Map(rows.map((g) => [String(g.name), { lag: Number(g.lag ?? 0), pending: Number(g.pending) }]));
}

/** True once all three channels' groups exist and have neither lag nor anything pending. */
export async function groupsDrained(redis: Redis, stream: string): Promise<boolean> {
  const backlog = await groupBacklog(redis, stream);
  return backlog.size === CHANNELS.length && [...backlog.values()].every((g) => g.lag === 0 && g.pending === 0);
}
