import type { Redis } from 'ioredis';
import { readGroupStatus, type Keys } from '@herald/shared';

/**
 * True once all three channels' groups exist and have neither lag nor anything pending, as
 * Herald reports them (`GET /v1/groups`, `herald_group_lag`): what an operator would look at.
 */
export async function groupsDrained(redis: Redis, keys: Keys): Promise<boolean> {
  const groups = await readGroupStatus(redis, keys);
  return groups.every((g) => g.exists && g.lag === 0 && g.pending === 0);
}
