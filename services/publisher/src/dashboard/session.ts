import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Dashboard sessions: after signing in with an admin key, the browser holds an HttpOnly,
 * SameSite=Strict cookie `herald_session=<expiry>.<HMAC>`. The HMAC key is derived from the admin
 * keys, so every publisher replica accepts the same cookie, and changing the keys ends every
 * session. No key ever travels in a URL.
 */
export const SESSION_COOKIE = 'herald_session';
export const SESSION_TTL_MS = 8 * 3600 * 1000;

export class DashboardSessions {
  private readonly secret: Buffer;

  constructor(adminKeys: readonly string[]) {
    this.secret = createHash('sha256').update(`herald-dashboard\n${[...adminKeys].sort().join('\n')}`).digest();
  }

  issue(now = Date.now()): string {
    const expires = String(now + SESSION_TTL_MS);
    return `${expires}.${this.sign(expires)}`;
  }

  valid(token: string | undefined, now = Date.now()): boolean {
    const [expires, mac] = (token ?? '').split('.');
    if (!expires || !mac || !/^\d+$/.test(expires) || Number(expires) < now) return false;
    const expected = Buffer.from(this.sign(expires));
    const given = Buffer.from(mac);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private sign(expires: string): string {
    return createHmac('sha256', this.secret).update(expires).digest('base64url');
  }
}

/** The value of one cookie in a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}
