import type { Redis } from 'ioredis';
import type { Keys } from '../layout/keys.js';
import { deadLetterChannel } from '../layout/dead-letter.js';
import type { Logger } from '../logger.js';
import { reconnectDelay } from '../redis.js';
import { readStreamInfo } from '../redis-replies.js';
import { compareStreamIds } from '../stream-ids.js';

/** Letters moved per transaction. */
const BATCH = 100;

/**
 * Dead letters lived in `<stream>:dlq` until they moved into the stream's hash tag,
 * `{<stream>}:dlq` (keys.deadLetters), so that the settle script's keys share one Redis Cluster
 * slot. A worker moves the letters it finds there, at start and then with each trim (during a
 * rolling upgrade, workers of the old version still write there): each letter is appended to
 * the new stream, removed from the old one and counted over in one MULTI/EXEC, so none is lost
 * or doubled, also when several replicas do it at once (WATCH makes a transaction whose letters
 * another replica moved first do nothing, and it reads again). MULTI does not roll back a
 * command that fails, so the transaction only holds commands that cannot: an appended id is
 * always above the new stream's last one, read under the same WATCH. A letter keeps its id, and
 * so its time, unless the new stream has had a later one (workers of the new version
 * dead-lettered before this ran): then it is appended with a new id.
 *
 * The old layout only ever ran on one Redis node (on Redis Cluster its publishes failed), so a
 * transaction across the two streams' slots is fine here, and nowhere else in Herald.
 * Returns how many letters it moved.
 */
export async function migrateDeadLetters(redis: Redis, keys: Keys, logger: Logger): Promise<number> {
  if (!(await redis.exists(keys.legacyDeadLetters, keys.legacyDeadLetterCounts))) return 0;
  // WATCH holds for the connection: a connection of its own, so no other caller's MULTI is affected.
  const connection = redis.duplicate();
  try {
    let moved = 0;
    for (let aborted = 0; ;) {
      const batch = await moveBatch(connection, keys);
      if (batch === undefined) {
        // A watched stream changed (another replica moved letters, a settle dead-lettered one):
        // read again, after a pause.
        await new Promise((resolve) => setTimeout(resolve, reconnectDelay(++aborted)));
        continue;
      }
      if (batch === 0) break;
      moved += batch;
    }
    await foldCounts(connection, keys);
    if (moved > 0)
      logger.info(
        { moved, from: keys.legacyDeadLetters, to: keys.deadLetters },
        'moved dead letters to their new stream',
      );
    return moved;
  } finally {
    connection.disconnect();
  }
}

/** Moves up to BATCH letters; undefined when a watched key changed and nothing was done. */
async function moveBatch(redis: Redis, keys: Keys): Promise<number | undefined> {
  await redis.watch(keys.legacyDeadLetters, keys.deadLetters);
  const rows = (await redis.xrange(keys.legacyDeadLetters, '-', '+', 'COUNT', BATCH)) as [string, string[]][];
  if (rows.length === 0) {
    await redis.unwatch();
    return 0;
  }
  // A stream's ids only go up, past deleted entries too: either every letter of the batch
  // keeps its id, or none does.
  const info = await readStreamInfo(redis, keys.deadLetters);
  const last = info?.['last-generated-id'];
  const lastId = typeof last === 'string' ? last : '0-0';
  const keepIds = compareStreamIds(rows[0]![0], lastId) > 0;
  const tx = redis.multi();
  for (const [id, fields] of rows) {
    const channel = deadLetterChannel(fields);
    tx.xadd(keys.deadLetters, keepIds ? id : '*', ...fields);
    tx.xdel(keys.legacyDeadLetters, id);
    tx.hincrby(keys.deadLetterCounts, channel, 1);
    tx.hincrby(keys.legacyDeadLetterCounts, channel, -1);
  }
  const replies = await tx.exec();
  if (!replies) return undefined;
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0]!;
  return rows.length;
}

/**
 * What the old counts still hold once their letters are gone (counts the trimmer had already
 * lowered, say) is added to the new ones, so the totals an operator saw stay; then the old keys go.
 */
async function foldCounts(redis: Redis, keys: Keys): Promise<void> {
  for (;;) {
    await redis.watch(keys.legacyDeadLetters, keys.legacyDeadLetterCounts);
    if (Number(await redis.xlen(keys.legacyDeadLetters)) > 0) {
      await redis.unwatch();
      return; // letters arrived meanwhile (an old worker still running): the next start moves them
    }
    const counts = await redis.hgetall(keys.legacyDeadLetterCounts);
    const tx = redis.multi();
    for (const [channel, count] of Object.entries(counts))
      if (Number(count)) tx.hincrby(keys.deadLetterCounts, channel, Number(count));
    tx.del(keys.legacyDeadLetters, keys.legacyDeadLetterCounts);
    if (await tx.exec()) return;
  }
}
