import { createHash, timingSafeEqual } from 'node:crypto';
import { HeraldError } from '@herald/shared';

export type Role = 'publish' | 'admin';

/**
 * API keys: publish keys and admin keys; an admin key is accepted wherever a publish key is.
 * Keys are compared as SHA-256 digests with timingSafeEqual against every configured key, so
 * neither a key's content nor its length leaks through timing.
 */
export class KeyRing {
  private readonly keys: { digest: Buffer; role: Role }[];

  constructor(publishKeys: readonly string[], adminKeys: readonly string[]) {
    this.keys = [
      ...publishKeys.map((key) => ({ digest: digest(key), role: 'publish' as const })),
      ...adminKeys.map((key) => ({ digest: digest(key), role: 'admin' as const })),
    ];
  }

  /** No key configured: every route is open (and the publisher serves on loopback only). */
  get open(): boolean {
    return this.keys.length === 0;
  }

  /** Check an Authorization header for a route that needs `needed`; throws 401 or 403. */
  authorize(header: string | undefined, needed: Role): void {
    if (this.open) return;
    const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
    if (!match) throw new HeraldError('HERALD_ERR_UNAUTHORIZED');
    const presented = digest(match[1]!);
    let role: Role | undefined;
    for (const key of this.keys) {
      // No early exit: every key is compared, whichever matches.
      if (timingSafeEqual(key.digest, presented) && role !== 'admin') role = key.role;
    }
    if (!role) throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'The API key is not valid');
    if (needed === 'admin' && role !== 'admin') {
      throw new HeraldError('HERALD_ERR_FORBIDDEN', 'This route needs an admin key (HERALD_ADMIN_KEYS)');
    }
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** True for a HOST that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}
