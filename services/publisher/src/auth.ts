import { createHash, timingSafeEqual } from 'node:crypto';
import { HeraldError } from '@herald/shared';

export type Role = 'publish' | 'admin';

/**
 * API keys: publish keys and admin keys; an admin key is accepted wherever a publish key is.
 * Keys are compared as SHA-256 digests with timingSafeEqual against every configured key, so
 * neither a key's content nor its length leaks through timing.
 */
export class KeyRing {
  private readonly keys: { digest: Buffer; role: Role; id: string }[];

  constructor(publishKeys: readonly string[], adminKeys: readonly string[]) {
    this.keys = [
      ...publishKeys.map((key) => keyEntry(key, 'publish')),
      ...adminKeys.map((key) => keyEntry(key, 'admin')),
    ];
  }

  /** No key configured: every route is open (and the publisher serves on loopback only). */
  get open(): boolean {
    return this.keys.length === 0;
  }

  /**
   * Check an Authorization header for a route that needs `needed`; throws 401 or 403. Returns
   * the matched key's id (see keyEntry), or undefined when no key is configured.
   */
  authorize(header: string | undefined, needed: Role): string | undefined {
    if (this.open) return undefined;
    const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
    if (!match) throw new HeraldError('HERALD_ERR_UNAUTHORIZED');
    const presented = digest(match[1]!);
    let matched: { role: Role; id: string } | undefined;
    for (const key of this.keys) {
      // No early exit: every key is compared, whichever matches.
      if (timingSafeEqual(key.digest, presented) && matched?.role !== 'admin') matched = key;
    }
    if (!matched) throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'The API key is not valid');
    if (needed === 'admin' && matched.role !== 'admin') {
      throw new HeraldError('HERALD_ERR_FORBIDDEN', 'This route needs an admin key (HERALD_ADMIN_KEYS)');
    }
    return matched.id;
  }
}

/**
 * A key's id names it where the key itself must not appear (the rate limit's Redis key): the
 * first 64 bits of its SHA-256, the same on every replica whatever the order of the lists.
 */
function keyEntry(key: string, role: Role): { digest: Buffer; role: Role; id: string } {
  const keyDigest = digest(key);
  return { digest: keyDigest, role, id: keyDigest.subarray(0, 8).toString('hex') };
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
