import type { FastifyInstance } from 'fastify';
import {
  AMBIGUOUS_ENDPOINT_MESSAGE,
  HeraldError,
  isPrivateHost,
  isUnambiguousPushEndpoint,
  parseOrThrow,
  pushSubscriptionField,
  pushSubscriptionSchema,
  type StoredPushSubscription,
} from '@herald/shared';
import type { AppContext } from '../app.js';
import { redisCall } from '../redis-call.js';
import { userIdParam } from './users.js';

type UserParams = { Params: { userId: string } };

/** 400 HERALD_ERR_VALIDATION for a subscription's endpoint, with one issue naming it. */
function endpointRefused(message: string): HeraldError {
  return new HeraldError('HERALD_ERR_VALIDATION', `The push subscription is invalid: endpoint: ${message}`, [
    { path: 'endpoint', message },
  ]);
}

export function pushRoutes(app: FastifyInstance, { redis, keys, scripts, config }: AppContext): void {
  // The browser's routes: a user token for the user may use them, as well as a key whose scope covers it.
  const browser = { config: { userToken: true } };
  app.post<UserParams>('/v1/users/:userId/push-subscriptions', browser, async (request, reply) => {
    const userId = userIdParam(request.params.userId);
    const subscription = parseOrThrow(pushSubscriptionSchema, request.body, 'The push subscription');
    if (!config.HERALD_ALLOW_PRIVATE_PUSH && isPrivateHost(new URL(subscription.endpoint).hostname)) {
      throw endpointRefused(
        'must not point at a private, loopback or link-local address ' +
          '(set HERALD_ALLOW_PRIVATE_PUSH=true for local testing)',
      );
    }
    // After the private check, so that a private address in any spelling is refused as such.
    // web-push reads the host with another parser than the check above (issue 12).
    if (!isUnambiguousPushEndpoint(subscription.endpoint)) throw endpointRefused(AMBIGUOUS_ENDPOINT_MESSAGE);
    const stored: StoredPushSubscription = {
      endpoint: subscription.endpoint,
      keys: subscription.keys,
      createdAt: Date.now(),
    };
    // Beyond HERALD_MAX_PUSH_SUBSCRIPTIONS the user's oldest subscriptions are dropped, atomically.
    const [added] = await redisCall(scripts.addPushSubscription(userId, stored, config.HERALD_MAX_PUSH_SUBSCRIPTIONS));
    return reply.code(added ? 201 : 200).send({ endpoint: subscription.endpoint });
  });

  app.delete<UserParams & { Querystring: { endpoint?: string } }>(
    '/v1/users/:userId/push-subscriptions',
    browser,
    async (request, reply) => {
      const userId = userIdParam(request.params.userId);
      const endpoint = request.query.endpoint;
      if (typeof endpoint !== 'string' || endpoint === '') {
        const issue = { path: 'endpoint', message: 'expected the url-encoded endpoint in ?endpoint=' };
        throw new HeraldError('HERALD_ERR_VALIDATION', `endpoint: ${issue.message}`, [issue]);
      }
      const removed = await redisCall(redis.hdel(keys.pushSubscriptions(userId), pushSubscriptionField(endpoint)));
      if (!removed)
        throw new HeraldError('HERALD_ERR_NOT_FOUND', `User ${userId} has no push subscription with that endpoint`);
      return reply.code(204).send();
    },
  );

  app.get('/v1/push/vapid-public-key', browser, async () => {
    if (!config.VAPID_PUBLIC_KEY) {
      throw new HeraldError('HERALD_ERR_NOT_FOUND', 'No VAPID public key is configured (VAPID_PUBLIC_KEY)');
    }
    return { publicKey: config.VAPID_PUBLIC_KEY };
  });
}
