import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '@herald/shared';
import { digest } from '../auth.js';
import { redisCall } from '../redis-call.js';

/**
 * Dashboard sessions, kept in Redis: signing in with an admin key makes a random id (256 bits)
 * stored for SESSION_TTL_MS; the browser's HttpOnly, SameSite=Strict cookie carries only that id,
 * so it can be neither forged nor used to test guesses of a key. Redis holds the id's SHA-256,
 * not the id, with the fingerprint of the admin keys it was made under and the name of the key
 * signed in with (so a session spends that key's budgets, however often one signs in): signing
 * out deletes it, and changing HERALD_ADMIN_KEYS ends every session. With no admin key there is
 * no session.
 */
export const SESSION_COOKIE = 'herald_session';
export const SESSION_TTL_MS = 8 * 3600 * 1000;

/** A session id as made by `create`: 32 random bytes, base64url. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export class DashboardSessions {
  private readonly fingerprint: string;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly adminKeys: readonly string[],
  ) {
    const digests = adminKeys.map((key) => sha256(key)).sort();
    this.fingerprint = sha256(`herald-admin-keys\n${digests.join('\n')}`);
  }

  /** Sign-in is possible only with admin keys configured. */
  get enabled(): boolean {
    return this.adminKeys.length > 0;
  }

  /** A new session for the admin key named `caller` (`key:<key id>`); its id goes into the cookie. */
  async create(caller: string): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await redisCall(
      this.redis.set(this.keys.dashboardSession(sha256(id)), `${this.fingerprint} ${caller}`, 'PX', SESSION_TTL_MS),
    );
    return id;
  }

  /**
   * The name of the key the session was made with (`key:<key id>`, for the rate limit and the
   * other per-key limits) when `id` is a live session made under the current admin keys;
   * undefined otherwise.
   */
  async check(id: string | undefined): Promise<string | undefined> {
    if (!this.enabled || id === undefined || !SESSION_ID.test(id)) return undefined;
    const stored = await redisCall(this.redis.get(this.keys.dashboardSession(sha256(id))));
    const [fingerprint, caller] = (stored ?? '').split(' ');
    return fingerprint === this.fingerprint && caller ? caller : undefined;
  }

  /** Sign out: the id is no longer accepted anywhere. */
  async end(id: string | undefined): Promise<void> {
    if (id === undefined || !SESSION_ID.test(id)) return;
    await redisCall(this.redis.del(this.keys.dashboardSession(sha256(id))));
  }
}

function sha256(text: string): string {
  return digest(text).toString('hex');
}

/** The value of one cookie in a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}
