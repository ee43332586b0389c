import { createHash, timingSafeEqual } from 'node:crypto';
import { HeraldError } from '@herald/shared';
import { parseScopedKey, userScope, type UserScope } from './user-scope.js';

/** What a route needs: `publish` (an API key of either kind) or `admin`. */
export type Role = 'publish' | 'admin';

/**
 * Who a request speaks for, once authenticated: an admin (an admin key, a dashboard session, or
 * anyone when no key is configured), a publish key within its scope, or a user token for one user.
 */
export interface Principal {
  role: 'admin' | 'publish' | 'user';
  /**
   * Its name for per-caller limits: `key:<key id>` (a dashboard session names its admin key),
   * `user:<id>` or `ip:<address>`.
   */
  caller: string;
  /** The users it may act on (read, change, publish to). */
  scope: UserScope;
  /** How refusals name it: "this key's scope (acme-*)", "this user token". */
  describe: string;
}

/** A configured key, as the ring keeps it: its digest, and the principal it stands for, made once. */
interface KeyEntry {
  digest: Buffer;
  principal: Principal;
}

/**
 * API keys: publish keys (each with an optional scope of users, `key:acme-*`) and admin keys; an
 * admin key is accepted wherever a publish key is and reaches every user. Keys are compared as
 * SHA-256 digests with timingSafeEqual against every configured key, so neither a key's content
 * nor its length leaks through timing.
 */
export class KeyRing {
  private readonly keys: KeyEntry[];

  constructor(publishKeys: readonly string[], adminKeys: readonly string[]) {
    this.keys = [
      ...publishKeys.map((entry) => {
        const parsed = parseScopedKey(entry);
        if ('problem' in parsed) throw new Error(`HERALD_API_KEYS: ${parsed.problem}`);
        return keyEntry(parsed.key, 'publish', parsed.pattern);
      }),
      ...adminKeys.map((key) => keyEntry(key, 'admin', undefined)),
    ];
  }

  /** No key configured: every route is open (and the publisher serves on loopback only). */
  get open(): boolean {
    return this.keys.length === 0;
  }

  /** The key a bearer credential is, or undefined when it is none of them. */
  find(presentedKey: string): Principal | undefined {
    const presented = digest(presentedKey);
    let matched: Principal | undefined;
    for (const key of this.keys) {
      // No early exit: every key is compared, whichever matches.
      if (timingSafeEqual(key.digest, presented) && matched?.role !== 'admin') matched = key.principal;
    }
    return matched;
  }
}

/** The bearer credential of an Authorization header, or undefined when it has none in that form. */
export function bearerOf(header: string | undefined): string | undefined {
  return /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
}

/**
 * Whether `principal` may use a route that needs `needed`, names the user `userId` (its path's
 * `:userId`, if any) and does (`userToken`) or does not let a user token in; throws 403 if not.
 */
export function authorizeRoute(
  principal: Principal,
  route: { role?: Role; userToken?: boolean },
  userId: string | undefined,
): void {
  if (principal.role === 'user' && !route.userToken) {
    throw new HeraldError(
      'HERALD_ERR_FORBIDDEN',
      'A user token only registers and removes its own push subscriptions; this route needs an API key',
    );
  }
  if ((route.role ?? 'publish') === 'admin' && principal.role !== 'admin') {
    throw new HeraldError('HERALD_ERR_FORBIDDEN', 'This route needs an admin key (HERALD_ADMIN_KEYS)');
  }
  if (userId !== undefined) assertMayActOn(principal, userId);
}

/** 403 unless `principal` may act on `userId`. */
export function assertMayActOn(principal: Principal, userId: string): void {
  if (!principal.scope.includes(userId)) {
    throw new HeraldError('HERALD_ERR_FORBIDDEN', `User ${userId} is outside ${principal.describe}`);
  }
}

/** A key, and the principal it stands for (an admin key has no scope: it reaches every user). */
function keyEntry(key: string, role: Role, pattern: string | undefined): KeyEntry {
  return {
    digest: digest(key),
    principal: {
      role,
      caller: `key:${shortDigest(key)}`,
      scope: userScope(pattern),
      describe: pattern === undefined ? 'this key' : `this key's scope (${pattern})`,
    },
  };
}

export function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * A name for a secret, or for text that must not appear as itself, where it has to be named (a
 * key's or a user's budget in Redis): the first 64 bits of its SHA-256, hex, the same on every
 * replica.
 */
export function shortDigest(text: string): string {
  return digest(text).subarray(0, 8).toString('hex');
}
