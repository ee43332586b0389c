import type { FastifyInstance } from 'fastify';
import { HeraldError } from '@herald/shared';
import type { AppContext } from '../app.js';
import { userIdParam } from './users.js';

/**
 * `POST /v1/users/:userId/tokens` (a publish key whose scope covers the user): a short-lived user
 * token for that user's browser, which may then register and remove its own push subscriptions
 * and nothing else (see user-tokens.ts). The app's server asks for it and hands it to the page:
 * no API key ever reaches a browser.
 */
export function userTokenRoutes(app: FastifyInstance, { tokens }: AppContext): void {
  app.post<{ Params: { userId: string } }>('/v1/users/:userId/tokens', async (request, reply) => {
    const userId = userIdParam(request.params.userId);
    if (!tokens.enabled) {
      throw new HeraldError('HERALD_ERR_NOT_FOUND', 'User tokens are not configured: set HERALD_USER_TOKEN_SECRETS');
    }
    return reply.code(201).send(tokens.issue(userId));
  });
}
