import { HeraldError } from '@herald/shared';

/**
 * Await a Redis command; any failure (disconnected, timed out, refused by Redis) becomes 503
 * HERALD_ERR_UNAVAILABLE, which tells the caller to retry. The connection fails fast while
 * Redis is down (no offline queue), so this answers at once rather than hang.
 */
export async function redisCall<T>(command: Promise<T>): Promise<T> {
  try {
    return await command;
  } catch (err) {
    throw new HeraldError('HERALD_ERR_UNAVAILABLE', undefined, undefined, { cause: err });
  }
}
