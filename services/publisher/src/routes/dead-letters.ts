import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  HeraldError,
  REDRIVE_DELIVERED,
  decodeEntry,
  encodeEntry,
  isStreamId,
  parseOrThrow,
  toDeadLetterView,
  type Channel,
  type DeadLetterView,
} from '@herald/shared';
import type { AppContext } from '../app.js';
import { redisCall } from '../redis-call.js';
import { channelParam } from './groups.js';

const listSchema = z.strictObject({
  channel: z.string().optional(),
  limit: z
    .string()
    .regex(/^\d+$/, 'expected a whole number from 1 to 1000')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 1000, 'expected a whole number from 1 to 1000')
    .optional(),
  after: z.string().refine(isStreamId, 'expected a dead letter id').optional(),
});

/** Dead letters: list, redrive, drop (admin). */
export function deadLetterRoutes(app: FastifyInstance, { redis, keys, scripts, config }: AppContext): void {
  const admin = { config: { role: 'admin' as const } };

  async function find(dlqId: string): Promise<DeadLetterView> {
    const [found] = isStreamId(dlqId)
      ? ((await redisCall(redis.xrange(keys.deadLetters, dlqId, dlqId))) as [string, string[]][])
      : [];
    if (!found) throw new HeraldError('HERALD_ERR_NOT_FOUND', `No dead letter ${dlqId}`);
    return toDeadLetterView(found[0], found[1]);
  }

  app.get<{ Querystring: Record<string, string> }>('/v1/dead-letters', admin, async (request) => {
    const query = parseOrThrow(listSchema, request.query, 'The query');
    const channel = query.channel === undefined ? undefined : channelParam(query.channel);
    const limit = query.limit ?? 100;
    const deadLetters: DeadLetterView[] = [];
    let start = query.after ? `(${query.after}` : '-';
    let more = true;
    // Filtering by channel may need several pages; a bounded number per request, then `next`.
    for (let page = 0; page < 20 && deadLetters.length < limit && more; page++) {
      const rows = (await redisCall(redis.xrange(keys.deadLetters, start, '+', 'COUNT', Math.max(limit, 200)))) as [
        string,
        string[],
      ][];
      more = rows.length === Math.max(limit, 200);
      for (const [id, fields] of rows) {
        start = `(${id}`;
        const letter = toDeadLetterView(id, fields);
        if (!channel || letter.channel === channel) deadLetters.push(letter);
        if (deadLetters.length === limit) {
          more = true;
          break;
        }
      }
    }
    const next = more && start !== '-' ? start.slice(1) : null;
    return { deadLetters, next };
  });

  app.post<{ Params: { dlqId: string } }>('/v1/dead-letters/:dlqId/redrive', admin, async (request, reply) => {
    const letter = await find(request.params.dlqId);
    const decoded = decodeEntry(Object.entries(letter.entry).flat());
    if (!decoded.ok) {
      const issue = { path: decoded.error.field, message: decoded.error.message };
      throw new HeraldError(
        'HERALD_ERR_VALIDATION',
        `Dead letter ${letter.dlqId} holds a malformed entry (${decoded.error.message}); it would fail again. ` +
          'Append a corrected notification and drop this letter.',
        [issue],
      );
    }
    const channel = letter.channel as Channel;
    const n = { ...decoded.notification, channels: [channel] };
    const streamId = await redisCall(
      scripts.redrive(
        { dlqId: letter.dlqId, channel, id: n.id },
        Date.now(),
        config.HERALD_STREAM_MAXLEN,
        Math.max(config.HERALD_IDEMPOTENCY_TTL_S, config.HERALD_RETENTION_S),
        encodeEntry(n),
      ),
    );
    // Someone redrove or dropped it between our read and the script.
    if (!streamId) throw new HeraldError('HERALD_ERR_NOT_FOUND', `No dead letter ${letter.dlqId}`);
    if (streamId === REDRIVE_DELIVERED) {
      // Delivered meanwhile (a replay filled the gap): the letter is dropped, nothing is sent.
      return reply.code(200).send({ id: n.id, channel, streamId: null, status: 'already_delivered' });
    }
    request.log.info({ dlqId: letter.dlqId, id: n.id, channel, streamId }, 'redrove a dead letter');
    return reply.code(202).send({ id: n.id, channel, streamId });
  });

  app.delete<{ Params: { dlqId: string } }>('/v1/dead-letters/:dlqId', admin, async (request, reply) => {
    const letter = await find(request.params.dlqId);
    // The letter and its count go together, or neither.
    const removed = await redisCall(scripts.dropDeadLetter(letter.dlqId, letter.channel));
    if (!removed) throw new HeraldError('HERALD_ERR_NOT_FOUND', `No dead letter ${letter.dlqId}`);
    return reply.code(204).send();
  });
}
