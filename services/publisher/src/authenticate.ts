import type { FastifyRequest } from 'fastify';
import { HeraldError } from '@herald/shared';
import { KeyRing, bearerOf, shortDigest, type Principal } from './auth.js';
import { DashboardSessions, SESSION_COOKIE, readCookie } from './dashboard/session.js';
import { EVERY_USER, singleUser } from './user-scope.js';
import type { UserTokens } from './user-tokens.js';

/**
 * Who a request speaks for, from its Authorization header (an API key or a user token) or, with
 * no header, the dashboard's session cookie. Throws 401 when it is none of them.
 */
export class Authenticator {
  constructor(
    readonly keyRing: KeyRing,
    readonly tokens: UserTokens,
    readonly sessions: DashboardSessions,
  ) {}

  /** A promise only for a dashboard session (read in Redis): keys and tokens answer at once. */
  authenticate(request: FastifyRequest): Principal | Promise<Principal> {
    // The access hook has named the caller by its address already.
    if (this.keyRing.open)
      return { role: 'admin', caller: request.caller, scope: EVERY_USER, describe: 'this publisher' };
    const header = request.headers.authorization;
    if (header !== undefined) return this.bearer(header);
    const cookie = readCookie(request.headers.cookie, SESSION_COOKIE);
    if (cookie !== undefined && this.sessions.enabled) return this.session(request, cookie);
    throw new HeraldError('HERALD_ERR_UNAUTHORIZED');
  }

  private bearer(header: string): Principal {
    const credential = bearerOf(header);
    if (credential === undefined) throw new HeraldError('HERALD_ERR_UNAUTHORIZED');
    const key = this.keyRing.find(credential);
    if (key) return key;
    const userId = this.tokens.verify(credential);
    if (userId === undefined)
      throw new HeraldError(
        'HERALD_ERR_UNAUTHORIZED',
        'The API key or user token is not valid (or the token has expired)',
      );
    return {
      role: 'user',
      // Per user, not per token: making more tokens for one user buys no more requests.
      caller: `user:${shortDigest(userId)}`,
      scope: singleUser(userId),
      describe: 'this user token',
    };
  }

  /** A dashboard session stands for an admin key, checked in Redis on every request. */
  private async session(request: FastifyRequest, cookie: string): Promise<Principal> {
    const caller = await this.sessions.check(cookie);
    if (caller === undefined)
      throw new HeraldError(
        'HERALD_ERR_UNAUTHORIZED',
        'The dashboard session is not valid or has ended; sign in again',
      );
    // Besides SameSite=Strict, a request that changes something must carry a header no other
    // site's form or link can add.
    if (request.method !== 'GET' && request.method !== 'HEAD' && request.headers['x-herald-dashboard'] !== '1') {
      throw new HeraldError(
        'HERALD_ERR_FORBIDDEN',
        'Dashboard requests that change something must carry x-herald-dashboard: 1',
      );
    }
    return { role: 'admin', caller, scope: EVERY_USER, describe: 'this session' };
  }
}
