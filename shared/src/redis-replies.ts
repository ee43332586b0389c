import type { Redis } from 'ioredis';

/** A flat `[name, value, name, value, ...]` reply (XINFO and the like) as a record. */
export function toRecord(flat: readonly unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

/** XINFO STREAM as a record, or undefined when the stream does not exist; other failures throw. */
export async function readStreamInfo(redis: Redis, stream: string): Promise<Record<string, unknown> | undefined> {
  try {
    return toRecord((await redis.xinfo('STREAM', stream)) as unknown[]);
  } catch (err) {
    if (/no such key/i.test((err as Error).message)) return undefined;
    throw err;
  }
}
