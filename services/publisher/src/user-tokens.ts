import { createHmac, timingSafeEqual } from 'node:crypto';
import { userIdSchema } from '@herald/shared';

/** What every user token starts with (the format's version), so a token is never taken for a key. */
const PREFIX = 'hut1';

/** A token just made: give it to the user's browser. */
export interface IssuedUserToken {
  token: string;
  userId: string;
  expiresAt: string;
}

/**
 * User tokens: what a browser holds instead of an API key. `POST /v1/users/:userId/tokens` (a
 * publish key whose scope covers the user) answers one, good for `ttlS` seconds, that allows
 * exactly that user's browser routes (its own push subscriptions, the VAPID public key).
 *
 * A token is `hut1.<payload>.<mac>`: the payload is base64url JSON `{u: userId, e: expiry in
 * epoch seconds}` and the mac its HMAC-SHA256 under the first of HERALD_USER_TOKEN_SECRETS. It is
 * verified under any of them, so a new secret goes first, and an old one is dropped once the
 * tokens it signed have expired. Nothing is stored: a token cannot be revoked before it expires,
 * which is why it lives minutes, not days.
 */
export class UserTokens {
  constructor(
    private readonly secrets: readonly string[],
    private readonly ttlS: number,
  ) {}

  get enabled(): boolean {
    return this.secrets.length > 0;
  }

  issue(userId: string, now = Date.now()): IssuedUserToken {
    const expires = Math.floor(now / 1000) + this.ttlS;
    const payload = Buffer.from(JSON.stringify({ u: userId, e: expires })).toString('base64url');
    return {
      token: `${PREFIX}.${payload}.${mac(this.secrets[0]!, payload)}`,
      userId,
      expiresAt: new Date(expires * 1000).toISOString(),
    };
  }

  /** The user a valid, unexpired token names; undefined for anything else. */
  verify(token: string, now = Date.now()): string | undefined {
    const [prefix, payload, given, ...rest] = token.split('.');
    if (prefix !== PREFIX || !payload || !given || rest.length > 0 || !this.enabled) return undefined;
    const presented = Buffer.from(given);
    let signed = false;
    for (const secret of this.secrets) {
      const expected = Buffer.from(mac(secret, payload));
      // No early exit: every secret is tried, whichever matches.
      if (expected.length === presented.length && timingSafeEqual(expected, presented)) signed = true;
    }
    if (!signed) return undefined;
    let claims: { u?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof claims;
    } catch {
      return undefined;
    }
    const nowS = now / 1000;
    // A token living longer than HERALD_USER_TOKEN_TTL_S allows was not made by this publisher's settings.
    if (typeof claims.e !== 'number' || claims.e <= nowS || claims.e > nowS + this.ttlS + 60) return undefined;
    return userIdSchema.safeParse(claims.u).success ? (claims.u as string) : undefined;
  }
}

function mac(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(`${PREFIX}.${payload}`).digest('base64url');
}
