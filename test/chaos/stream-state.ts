import type { Redis } from 'ioredis';
import { readGroupStatus, toRecord, type Keys } from '@herald/shared';

/** Lag and pending entries of every group on `stream` as Redis reports them, by group name. */
export async function groupBacklog(redis: Redis, stream: string): Promise<Map<string, { lag: number; pending: number }>> {
  const rows = ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map(toRecord);
  return new Map(rows.map((g) => [String(g.name), { lag: Number(g.lag ?? 0), pending: Number(g.pending) }]));
}

/**
 * True once all three channels' groups exist and have neither lag nor anything pending, as
 * Herald reports them (`GET /v1/groups`, `herald_group_lag`): what an operator would look at.
 */
export async function groupsDrained(redis: Redis, keys: Keys): Promise<boolean> {
  const groups = await readGroupStatus(redis, keys);
  return groups.every((g) => g.exists && g.lag === 0 && g.pending === 0);
}
