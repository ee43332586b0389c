import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  HeraldError,
  MAX_ISSUES,
  NOTIFICATION_ID_PATTERN,
  parseOrThrow,
  publishBatchRequestSchema,
  publishRequestSchema,
  toIssues,
  toStatusView,
  type Issue,
  type Notification,
} from '@herald/shared';
import { BATCH_BODY_LIMIT, BODY_LIMIT, type AppContext } from '../app.js';
import { assertMayActOn } from '../auth.js';
import type { PublishOutcome } from '../publisher.js';
import { redisCall } from '../redis-call.js';

type BatchResult =
  | { id: string; streamId: string; status: 'accepted' | 'duplicate' }
  | { error: { code: string; message: string; issues?: Issue[] } };

/**
 * Most issues a batch's results list in all. Each refused item lists an equal share, at least
 * one and at most MAX_ISSUES: 1000 bad items answer about 260 KB with one issue each (about
 * 600 KB were every path 200 ASCII characters, the clip), where 20 each could answer more than
 * the 1 MiB they came in (issue 12).
 */
const BATCH_ISSUES = 1000;

function issueShare(refusedItems: number): number {
  return Math.max(1, Math.min(MAX_ISSUES, Math.floor(BATCH_ISSUES / Math.max(1, refusedItems))));
}

/** The 409 for an id already used: by this caller's notification of other content, or by another tenant's. */
function idRefusal(outcome: PublishOutcome): HeraldError | undefined {
  if (outcome.status === 'mismatch') {
    return new HeraldError(
      'HERALD_ERR_IDEMPOTENCY_MISMATCH',
      `Notification id ${outcome.id} was already used for a different notification ` +
        `(entry ${outcome.streamId}); use a new id`,
    );
  }
  if (outcome.status === 'taken') {
    // Nothing about the other notification: not its entry, nor whether it is a duplicate.
    return new HeraldError(
      'HERALD_ERR_IDEMPOTENCY_MISMATCH',
      `Notification id ${outcome.id} is taken; use a new id ` +
        `(ids are shared by every key: prefix yours, such as acme:${outcome.id})`,
    );
  }
  return undefined;
}

/** A batch's weight against HERALD_RATE_LIMIT besides the one unit every request pays: a unit per
 * notification beyond the first, and one per 64 KiB of body beyond the first 64 KiB. */
function extraUnits(items: number, bodyBytes: number): number {
  return Math.max(0, items - 1) + Math.max(0, Math.ceil(bodyBytes / BODY_LIMIT) - 1);
}

export function notificationRoutes(
  app: FastifyInstance,
  { publisher, redis, keys, metrics, spendBudget, records }: AppContext,
): void {
  const holdRecords = (request: FastifyRequest, reply: FastifyReply, ids: string[]) =>
    records.take(request.caller, ids, (retryAfterS) => {
      reply.header('retry-after', String(retryAfterS));
    });

  app.post('/v1/notifications', async (request, reply) => {
    try {
      const headerKey = request.headers['idempotency-key'];
      if (headerKey !== undefined && (typeof headerKey !== 'string' || !NOTIFICATION_ID_PATTERN.test(headerKey))) {
        const issue = { path: 'Idempotency-Key', message: 'expected 1 to 128 characters of A-Z a-z 0-9 . _ : -' };
        throw new HeraldError('HERALD_ERR_VALIDATION', `Idempotency-Key: ${issue.message}`, [issue]);
      }
      const valid = parseOrThrow(publishRequestSchema, request.body, 'The notification');
      assertMayActOn(request.principal, valid.userId);
      const notification = publisher.toNotification(valid, headerKey, Date.now());
      if (records.enabled) await holdRecords(request, reply, [notification.id]);
      const outcome = await publisher.publish(notification, request.principal.scope.lua);
      const refusal = idRefusal(outcome);
      if (refusal) throw refusal;
      metrics.published.inc({ outcome: outcome.status });
      return reply.code(outcome.status === 'accepted' ? 202 : 200).send({ id: outcome.id, streamId: outcome.streamId });
    } catch (err) {
      metrics.published.inc({ outcome: err instanceof HeraldError && err.status === 503 ? 'unavailable' : 'rejected' });
      throw err;
    }
  });

  app.post('/v1/notifications/batch', { bodyLimit: BATCH_BODY_LIMIT }, async (request, reply) => {
    const { notifications: items } = parseOrThrow(publishBatchRequestSchema, request.body, 'The batch');
    const extra = extraUnits(items.length, request.bodyBytes);
    await spendBudget(request, reply, extra, 1 + extra);
    const results = new Array<BatchResult>(items.length);
    const valid: { index: number; notification: Notification }[] = [];
    const refused: { index: number; error: HeraldError }[] = [];
    const now = Date.now();
    items.forEach((item, index) => {
      const parsed = publishRequestSchema.safeParse(item);
      if (parsed.success && !request.principal.scope.includes(parsed.data.userId)) {
        const message = `user ${parsed.data.userId} is outside ${request.principal.describe}`;
        const issues = [{ path: `notifications.${index}.userId`, message }];
        refused.push({
          index,
          error: new HeraldError('HERALD_ERR_FORBIDDEN', `Notification ${index}: ${message}`, issues),
        });
      } else if (parsed.success) {
        valid.push({ index, notification: publisher.toNotification(parsed.data, undefined, now) });
      } else {
        const issues = toIssues(parsed.error, ['notifications', index]);
        refused.push({
          index,
          error: new HeraldError('HERALD_ERR_VALIDATION', `Notification ${index} is invalid`, issues),
        });
      }
    });
    const share = issueShare(refused.length);
    for (const { index, error } of refused) results[index] = error.toBody(share);
    if (records.enabled)
      await holdRecords(
        request,
        reply,
        valid.map((v) => v.notification.id),
      );
    let outcomes: PublishOutcome[];
    try {
      const scope = request.principal.scope.lua;
      outcomes = valid.length ? await publisher.publishMany(valid.map((v) => ({ n: v.notification, scope }))) : [];
    } catch (err) {
      metrics.published.inc({ outcome: 'unavailable' }, items.length);
      throw err;
    }
    outcomes.forEach((outcome, i) => {
      const index = valid[i]!.index;
      const refusal = idRefusal(outcome);
      results[index] = refusal
        ? refusal.toBody()
        : { id: outcome.id, streamId: outcome.streamId, status: outcome.status as 'accepted' | 'duplicate' };
    });
    let succeeded = 0;
    for (const result of results) {
      const outcome = 'error' in result ? 'rejected' : result.status;
      if (outcome !== 'rejected') succeeded++;
      metrics.published.inc({ outcome });
    }
    if (succeeded > 0) return reply.code(202).send({ results });
    const issues = refused.flatMap(({ error }) => error.issues ?? []);
    const error = new HeraldError(
      'HERALD_ERR_VALIDATION',
      'No notification in the batch was accepted; see results',
      issues,
    );
    return reply.code(400).send({ ...error.toBody(), results });
  });

  // The most recent notifications with each channel's state, newest first (admin; the dashboard).
  app.get<{ Querystring: { limit?: string } }>('/v1/notifications', { config: { role: 'admin' } }, async (request) => {
    const limit = Math.min(200, Math.max(1, Number(request.query.limit ?? 20) || 20));
    const entries = (await redisCall(redis.xrevrange(keys.stream, '+', '-', 'COUNT', limit))) as [string, string[]][];
    const ids = [
      ...new Set(
        entries
          .map(([, fields]) => fields[fields.indexOf('id') + 1])
          .filter((id): id is string => !!id && NOTIFICATION_ID_PATTERN.test(id)),
      ),
    ];
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hgetall(keys.notification(id));
    const replies = ids.length ? ((await redisCall(pipeline.exec())) ?? []) : [];
    const notifications = ids
      .map((id, i) => toStatusView(id, (replies[i]?.[1] ?? {}) as Record<string, string>))
      .filter((v) => v !== undefined);
    return { notifications };
  });

  app.get<{ Params: { id: string } }>('/v1/notifications/:id', async (request) => {
    const { id } = request.params;
    if (!NOTIFICATION_ID_PATTERN.test(id)) throw new HeraldError('HERALD_ERR_NOT_FOUND', `No notification ${id}`);
    const view = toStatusView(id, await redisCall(redis.hgetall(keys.notification(id))));
    // Outside a key's scope a notification is as good as unknown: its existence is not confirmed.
    if (!view || !request.principal.scope.includes(view.userId))
      throw new HeraldError('HERALD_ERR_NOT_FOUND', `No notification ${id}`);
    return view;
  });
}
