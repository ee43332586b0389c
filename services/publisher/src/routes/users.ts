import type { FastifyInstance } from 'fastify';
import {
  HeraldError,
  parseOrThrow,
  userIdSchema,
  userRequestSchema,
  type StoredPushSubscription,
} from '@herald/shared';
import type { AppContext } from '../app.js';
import { redisCall } from '../redis-call.js';

type UserParams = { Params: { userId: string } };

/** The user hash's fields a PUT replaces, and their names in the request. */
const FIELD_NAMES = { email: 'email', phone: 'phone', locale: 'locale', prefs: 'preferences' } as const;
const STORED_FIELDS = Object.keys(FIELD_NAMES) as (keyof typeof FIELD_NAMES)[];

/** The user id from the path, or 400 naming it. */
export function userIdParam(value: string): string {
  return parseOrThrow(userIdSchema, value, 'The user id in the path');
}

/**
 * Users: contact data and preferences in one hash (`email`, `phone`, `locale`, `prefs` as JSON,
 * `updatedAt`), push subscriptions in another (endpoint → subscription JSON).
 */
export function userRoutes(app: FastifyInstance, { redis, keys }: AppContext): void {
  async function readUser(userId: string) {
    const replies = await redisCall(
      redis.multi().hgetall(keys.user(userId)).hgetall(keys.pushSubscriptions(userId)).exec(),
    );
    const [user, subscriptions] = (replies ?? []).map(([, value]) => (value ?? {}) as Record<string, string>);
    if (!user || !subscriptions || (Object.keys(user).length === 0 && Object.keys(subscriptions).length === 0)) {
      throw new HeraldError('HERALD_ERR_NOT_FOUND', `No user ${userId}`);
    }
    return {
      userId,
      ...(user.email ? { email: user.email } : {}),
      ...(user.phone ? { phone: user.phone } : {}),
      ...(user.locale ? { locale: user.locale } : {}),
      preferences: user.prefs ? (JSON.parse(user.prefs) as Record<string, unknown>) : {},
      pushSubscriptions: Object.values(subscriptions).map((text) => {
        const s = JSON.parse(text) as StoredPushSubscription;
        return { endpoint: s.endpoint, createdAt: new Date(s.createdAt).toISOString() };
      }),
    };
  }

  app.put<UserParams>('/v1/users/:userId', async (request) => {
    const userId = userIdParam(request.params.userId);
    const user = parseOrThrow(userRequestSchema, request.body, 'The user');
    const fields: Record<string, string> = { updatedAt: String(Date.now()) };
    if (user.email) fields.email = user.email;
    if (user.phone) fields.phone = user.phone;
    if (user.locale) fields.locale = user.locale;
    if (user.preferences) fields.prefs = JSON.stringify(user.preferences);
    if (request.principal.role !== 'admin') await refuseRemoval(userId, fields);
    // Replace contact data and preferences in one step; push subscriptions live elsewhere and stay.
    await redisCall(redis.multi().del(keys.user(userId)).hset(keys.user(userId), fields).exec());
    return readUser(userId);
  });

  /**
   * Deleting a user's data is an admin action on every route: a publish key may replace what is
   * stored, but a PUT that leaves out a stored field (and so would erase it) is refused, naming it.
   */
  async function refuseRemoval(userId: string, fields: Record<string, string>): Promise<void> {
    const stored = await redisCall(redis.hmget(keys.user(userId), ...STORED_FIELDS));
    // Preferences emptied to {} are removed as much as preferences left out.
    const removed = STORED_FIELDS.filter(
      (field, i) => stored[i] != null && stored[i] !== '{}' && (fields[field] === undefined || (field === 'prefs' && fields.prefs === '{}')),
    );
    if (removed.length === 0) return;
    const names = removed.map((field) => FIELD_NAMES[field]).join(', ');
    throw new HeraldError(
      'HERALD_ERR_FORBIDDEN',
      `User ${userId} has ${names} stored, which this request would remove; removing a user's data needs an admin key (send the field to keep or change it)`,
      removed.map((field) => ({ path: FIELD_NAMES[field], message: 'stored, and left out: removing it needs an admin key' })),
    );
  }

  app.get<UserParams>('/v1/users/:userId', async (request) => readUser(userIdParam(request.params.userId)));

  app.delete<UserParams>('/v1/users/:userId', { config: { role: 'admin' } }, async (request, reply) => {
    const userId = userIdParam(request.params.userId);
    await redisCall(redis.del(keys.user(userId), keys.pushSubscriptions(userId)));
    return reply.code(204).send();
  });
}
