import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HeraldError } from '@herald/shared';
import { authorizeRoute, type Principal } from './auth.js';
import type { Authenticator } from './authenticate.js';
import type { RequestLimiter } from './request-limiter.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who is asking, as the rate limit counts them: `key:<key id>` (a dashboard session counts as
     * its admin key), `user:<id>` or `ip:<address>` (public routes, a publisher without keys).
     */
    caller: string;
    /** Who the request speaks for; set on every route that is not public. */
    principal: Principal;
  }
}

/**
 * Charge `units` of the request's HERALD_RATE_LIMIT budget; past it, 429 with Retry-After. `whole`
 * is what the request counts in all (units charged before included): past a minute's budget it
 * could never go, and is refused with 413 instead.
 */
export type SpendBudget = (
  request: FastifyRequest,
  reply: FastifyReply,
  units: number,
  whole?: number,
) => Promise<void>;

/**
 * Every route needs a key unless it says it is public, decided on the matched route, not on the
 * raw URL, so no spelling of a path (`/%761/...`) gets past it; unknown paths need one too. The
 * principal is then held to the route's role, to its `:userId` (a key's scope, a user token's
 * user) and to whether it lets user tokens in. Each request then spends one unit of its caller's
 * budget; a refused credential spends from its client address, so guessing keys is limited like
 * any other traffic while a real key from the same address keeps its own budget.
 */
export function useAccessControl(
  app: FastifyInstance,
  authenticator: Authenticator,
  limiter: RequestLimiter,
  perMinute: number,
): SpendBudget {
  app.decorateRequest('caller', '');
  app.decorateRequest('principal', undefined as unknown as Principal);

  const spendBudget: SpendBudget = async (request, reply, units, whole = units) => {
    if (perMinute > 0 && whole > perMinute) {
      throw new HeraldError(
        'HERALD_ERR_PAYLOAD_TOO_LARGE',
        `This request counts ${whole} against HERALD_RATE_LIMIT (one per notification, one per 64 KiB), ` +
          `more than a whole minute's budget of ${perMinute}; send smaller batches`,
      );
    }
    const decision = await limiter.spend(request.caller, units);
    if (decision.allowed) return;
    reply.header('retry-after', String(decision.retryAfterS));
    throw new HeraldError(
      'HERALD_ERR_RATE_LIMITED',
      `Too many requests: more than ${perMinute} a minute (HERALD_RATE_LIMIT; a batch counts each notification); ` +
        `retry after ${decision.retryAfterS} s`,
    );
  };

  app.addHook('onRequest', async (request, reply) => {
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      throw new HeraldError('HERALD_ERR_VALIDATION', 'An HTTP/1.1 request needs a Host header');
    }
    const route = request.routeOptions.config;
    request.caller = `ip:${request.ip}`;
    if (!route.public) {
      try {
        const found = authenticator.authenticate(request);
        const principal = found instanceof Promise ? await found : found;
        authorizeRoute(principal, route, (request.params as { userId?: string } | undefined)?.userId);
        request.principal = principal;
        request.caller = principal.caller;
      } catch (refusal) {
        const refused = refusal instanceof HeraldError && (refusal.status === 401 || refusal.status === 403);
        if (refused && !route.unlimited && perMinute > 0) await spendBudget(request, reply, 1);
        throw refusal;
      }
    }
    if (!route.unlimited && perMinute > 0) await spendBudget(request, reply, 1);
  });
  return spendBudget;
}
