import type { FastifyInstance } from 'fastify';
import {
  HeraldError,
  decodePushSubscriptions,
  decodeUser,
  encodeUser,
  parseOrThrow,
  userIdSchema,
  userRequestSchema,
  USER_FIELDS,
  type StoredUser,
} from '@herald/shared';
import type { AppContext } from '../app.js';
import { redisCall } from '../redis-call.js';

type UserParams = { Params: { userId: string } };

/** What a PUT replaces, by its name in the request. */
const REPLACED = ['email', 'phone', 'locale', 'preferences'] as const;

/** The user id from the path, or 400 naming it. */
export function userIdParam(value: string): string {
  return parseOrThrow(userIdSchema, value, 'The user id in the path');
}

/**
 * Users: contact data and preferences in one hash, push subscriptions in another (see
 * layout/user-record.ts and layout/push-subscriptions.ts).
 */
export function userRoutes(app: FastifyInstance, { redis, keys }: AppContext): void {
  async function readUser(userId: string) {
    const replies = await redisCall(
      redis.multi().hgetall(keys.user(userId)).hgetall(keys.pushSubscriptions(userId)).exec(),
    );
    const [hash, subscriptionHash] = (replies ?? []).map(([, value]) => (value ?? {}) as Record<string, string>);
    if (!hash || !subscriptionHash || (Object.keys(hash).length === 0 && Object.keys(subscriptionHash).length === 0)) {
      throw new HeraldError('HERALD_ERR_NOT_FOUND', `No user ${userId}`);
    }
    const { updatedAt: _updatedAt, preferences, ...contact } = decodeUser(hash, true);
    return {
      userId,
      ...contact,
      preferences: preferences ?? {},
      pushSubscriptions: decodePushSubscriptions(subscriptionHash, true).map((s) => ({
        endpoint: s.endpoint,
        createdAt: new Date(s.createdAt).toISOString(),
      })),
    };
  }

  app.put<UserParams>('/v1/users/:userId', async (request) => {
    const userId = userIdParam(request.params.userId);
    const user: StoredUser = { ...parseOrThrow(userRequestSchema, request.body, 'The user'), updatedAt: Date.now() };
    if (request.principal.role !== 'admin') await refuseRemoval(userId, user);
    // Replace contact data and preferences in one step; push subscriptions live elsewhere and stay.
    await redisCall(redis.multi().del(keys.user(userId)).hset(keys.user(userId), encodeUser(user)).exec());
    return readUser(userId);
  });

  /**
   * Deleting a user's data is an admin action on every route: a publish key may replace what is
   * stored, but a PUT that leaves out a stored field (and so would erase it) is refused, naming it.
   */
  async function refuseRemoval(userId: string, user: StoredUser): Promise<void> {
    // Both sides through the codec: preferences emptied to {} are removed as much as left out.
    const hash = await redisCall(redis.hgetall(keys.user(userId)));
    const stored = decodeUser(hash);
    const kept = decodeUser(encodeUser(user));
    // Preferences stored corrupt are still stored: only an admin may drop them.
    const storedPrefs = hash[USER_FIELDS.preferences];
    if (stored.preferences === undefined && storedPrefs && storedPrefs !== '{}') stored.preferences = {};
    const removed = REPLACED.filter((field) => stored[field] !== undefined && kept[field] === undefined);
    if (removed.length === 0) return;
    throw new HeraldError(
      'HERALD_ERR_FORBIDDEN',
      `User ${userId} has ${removed.join(', ')} stored, which this request would remove; ` +
        `removing a user's data needs an admin key (send the field to keep or change it)`,
      removed.map((field) => ({ path: field, message: 'stored, and left out: removing it needs an admin key' })),
    );
  }

  app.get<UserParams>('/v1/users/:userId', async (request) => readUser(userIdParam(request.params.userId)));

  app.delete<UserParams>('/v1/users/:userId', { config: { role: 'admin' } }, async (request, reply) => {
    const userId = userIdParam(request.params.userId);
    await redisCall(redis.del(keys.user(userId), keys.pushSubscriptions(userId)));
    return reply.code(204).send();
  });
}
