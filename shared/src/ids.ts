import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/**
 * Randomness for ULIDs from a pool of secure random bytes: ulid's default draws one byte with a
 * system call per character, sixteen per new millisecond, which showed in the publisher's profile.
 */
let pool = Buffer.alloc(0);
let used = 0;
function pooledRandom(): number {
  if (used >= pool.length) {
    pool = randomBytes(4096);
    used = 0;
  }
  return pool[used++]! / 256;
}

const next = monotonicFactory(pooledRandom);

/** A new notification id: a ULID, time-sortable and unique (26 characters). */
export function newNotificationId(): string {
  return next();
}
