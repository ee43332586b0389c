import type { UserRecord } from '../channel-driver.js';
import { parsePasses, type Passes } from '../layout/passes.js';
import { decodeUser } from '../layout/user-record.js';
import type { RuntimeContext } from './context.js';

/**
 * Every user of a batch, and the channel's passes, in one round trip, with the driver's own
 * per-user reads (its `userLookup`) in the same pipeline; a user whose look-up failed maps to
 * its error.
 */
export async function lookUpUsers(
  ctx: RuntimeContext,
  userIds: string[],
): Promise<{ users: Map<string, UserRecord | Error>; passes: Passes }> {
  const { redis, keys, channel } = ctx;
  const own = ctx.driver.userLookup;
  const unique = [...new Set(userIds)];
  const pipeline = redis.pipeline();
  pipeline.hgetall(keys.passes(channel));
  for (const userId of unique) {
    pipeline.hgetall(keys.user(userId));
    own?.queue(pipeline, userId);
  }
  const [[passesErr, passesHash] = [new Error('no reply'), null], ...replies] = (await pipeline.exec()) ?? [];
  if (passesErr) throw passesErr;
  const users = new Map<string, UserRecord | Error>();
  const stride = own ? 2 : 1;
  unique.forEach((userId, i) => {
    const [userErr, userHash] = replies[i * stride] ?? [new Error('no reply'), null];
    const [ownErr, ownReply] = own ? (replies[i * stride + 1] ?? [new Error('no reply'), null]) : [null, null];
    if (userErr || ownErr) {
      users.set(userId, (userErr ?? ownErr)!);
      return;
    }
    const record: UserRecord = decodeUser(userHash as Record<string, string> | null);
    own?.apply(record, ownReply);
    users.set(userId, record);
  });
  return { users, passes: parsePasses(passesHash as Record<string, string>) };
}
