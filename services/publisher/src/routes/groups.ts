import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  CHANNELS,
  GROUPS,
  HeraldError,
  compareStreamIds,
  countAfter,
  createGroupAtStart,
  minStreamId,
  parseOrThrow,
  previousStreamId,
  readGroupStatus,
  readStreamInfo,
  streamGroups,
  type Channel,
} from '@herald/shared';
import type { AppContext } from '../app.js';
import { redisCall } from '../redis-call.js';

const replaySchema = z.strictObject({
  from: z.union([z.string(), z.number()], { error: 'expected 0, a stream id or an ISO-8601 time' }).transform(String),
  resend: z.boolean().optional(),
});

export function channelParam(value: string): Channel {
  if (!(CHANNELS as readonly string[]).includes(value)) {
    throw new HeraldError('HERALD_ERR_NOT_FOUND', `No channel ${value}: expected one of ${CHANNELS.join(', ')}`);
  }
  return value as Channel;
}

/** Group status and replay (admin). */
export function groupRoutes(app: FastifyInstance, { redis, keys, scripts }: AppContext): void {
  const admin = { config: { role: 'admin' as const } };

  app.get('/v1/groups', admin, async () => ({ groups: await redisCall(readGroupStatus(redis, keys)) }));

  app.post<{ Params: { channel: string } }>('/v1/groups/:channel/replay', admin, async (request) => {
    const channel = channelParam(request.params.channel);
    const { from, resend } = parseOrThrow(replaySchema, request.body, 'The replay');
    const group = GROUPS[channel];
    const { requested, fromId } = await resolveFrom(from);
    if (requested !== '0-0') {
      const info = (await redisCall(readStreamInfo(redis, keys.stream))) ?? {};
      const first = (info['first-entry'] as [string] | null)?.[0] ?? null;
      // Entries were removed (entries-added exceeds the length) and the start lies before the
      // oldest one left: some of what the replay should walk is gone.
      const removed = Number(info['entries-added'] ?? 0) > Number(info.length ?? 0);
      if (removed && (!first || compareStreamIds(requested, first) < 0)) {
        throw new HeraldError(
          'HERALD_ERR_REPLAY_TRIMMED',
          `Entries before ${first ?? 'now'} were trimmed away, so a replay from ${requested} would skip some; ` +
            `the oldest entry still there is ${first ?? '(none)'}. ` +
            'Replay from it, or from 0 for everything retained.',
        );
      }
    }
    // The pass first: a worker reading the walked entries must already see it.
    const pass = resend ? await redisCall(scripts.startPass(channel, fromId)) : undefined;
    // Never move a group forward: entries it has not read yet (workers down, say) would be skipped.
    // A group no worker has made yet is made first, at 0 as a worker would make it.
    const current = (await redisCall(streamGroups(redis, keys.stream))).find((g) => g.name === group);
    if (!current) await redisCall(createGroupAtStart(redis, keys.stream, group));
    const wanted = fromId === '0-0' ? '0-0' : previousStreamId(fromId);
    const setTo = minStreamId(current ? String(current['last-delivered-id']) : '0-0', wanted);
    const entries = await redisCall(countAfter(redis, keys.stream, setTo));
    // ENTRIESREAD keeps the group's lag exact after the move (Redis 7 reports none otherwise).
    const info = (await redisCall(readStreamInfo(redis, keys.stream))) ?? {};
    const entriesRead = Math.max(0, Number(info['entries-added'] ?? 0) - entries);
    await redisCall(redis.xgroup('SETID', keys.stream, group, setTo, 'ENTRIESREAD', entriesRead));
    request.log.info({ channel, from: fromId, resend: !!resend, pass, entries }, 'replay');
    return { group, from: fromId, entries, ...(pass !== undefined ? { pass } : {}) };
  });

  /**
   * `0`, a stream id (`1700000000000-0`, or its time part alone), or an ISO-8601 time: the
   * point asked for, and the first id to walk (for a time, the first entry at or after it).
   */
  async function resolveFrom(from: string): Promise<{ requested: string; fromId: string }> {
    if (from === '0' || from === '0-0') return { requested: '0-0', fromId: '0-0' };
    if (/^\d{1,16}-\d{1,20}$/.test(from)) return { requested: from, fromId: from };
    if (/^\d{1,16}$/.test(from)) return { requested: `${from}-0`, fromId: `${from}-0` };
    const parsed = z.iso.datetime({ offset: true }).safeParse(from);
    if (!parsed.success) {
      const issue = { path: 'from', message: 'expected 0, a stream id or an ISO-8601 time' };
      throw new HeraldError('HERALD_ERR_VALIDATION', `The replay is invalid: from: ${issue.message}`, [issue]);
    }
    const requested = `${Date.parse(from)}-0`;
    // With no entry at or after that time, nothing is walked until new entries come.
    const [first] = (await redisCall(redis.xrange(keys.stream, requested, '+', 'COUNT', 1))) as [string, string[]][];
    return { requested, fromId: first ? first[0] : requested };
  }
}
