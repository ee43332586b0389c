import type { FastifyInstance } from 'fastify';
import { HeraldError, decodeEntry, isStreamId, readStreamInfo } from '@herald/shared';
import type { AppContext } from '../app.js';
import { redisCall } from '../redis-call.js';
import { STREAM_RETRY_AFTER_S, StreamSlots } from '../stream-slots.js';

/** Longest a read waits before looking again, and how often a quiet stream sends a heartbeat. */
const BLOCK_MS = 5000;

const EVENT_STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/**
 * `GET /v1/stream` (admin): server-sent events, one per new entry of the stream, from now or
 * from `?from=<stream id>` (or the `Last-Event-ID` a reconnecting EventSource sends). Each event
 * carries the entry's id, type, userId, channels and ts; never contact data or content.
 * Each client reads on a connection of its own, closed the moment the client goes away; at most
 * HERALD_MAX_STREAMS streams are open at once, HERALD_MAX_STREAMS_PER_KEY per caller.
 */
export function liveStreamRoutes(app: FastifyInstance, { redis, keys, config }: AppContext): void {
  const open = new Set<() => void>();
  const slots = new StreamSlots({ total: config.HERALD_MAX_STREAMS, perCaller: config.HERALD_MAX_STREAMS_PER_KEY });
  // The publisher's shutdown waits for requests in flight; a live stream never ends by itself.
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });

  app.get<{ Querystring: { from?: string } }>('/v1/stream', { config: { role: 'admin' } }, async (request, reply) => {
    const lastEventId = request.headers['last-event-id'];
    const from = request.query.from ?? (typeof lastEventId === 'string' ? lastEventId : undefined);
    if (from !== undefined && !isStreamId(from) && from !== '0') {
      const issue = { path: 'from', message: 'expected a stream id such as 1700000000000-0' };
      throw new HeraldError('HERALD_ERR_VALIDATION', `from: ${issue.message}`, [issue]);
    }
    // "From now" means from this request: pin the stream's current last id before answering, so
    // an entry appended once the client has its 200 is not lost while the reader connects.
    let start = from;
    if (start === undefined) {
      const info = await redisCall(readStreamInfo(redis, keys.stream));
      start = info ? String(info['last-generated-id']) : '0-0';
    }
    // HEAD (which Fastify serves with this handler) has no body, so no events: the head alone. A
    // stream for it would never send its head (Node holds it back until a body write) nor end,
    // and would hold a Redis connection for as long as the client stayed.
    if (request.method === 'HEAD') return reply.headers(EVENT_STREAM_HEADERS).send();
    const slot = slots.take(request.caller);
    if ('refusal' in slot) {
      reply.header('retry-after', String(STREAM_RETRY_AFTER_S));
      throw slot.refusal;
    }
    // Fails fast while Redis is away (no offline queue), so the loop keeps sending heartbeats.
    const reader = redis.duplicate({ enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: undefined });
    reader.on('error', () => undefined); // reconnects by itself; the loop below reports nothing to the client
    let closed = false;
    const end = () => {
      if (closed) return;
      closed = true;
      slot.release();
      reader.disconnect();
      reply.raw.end();
    };
    open.add(end);
    const gone = () => {
      open.delete(end);
      end();
    };
    reply.raw.on('close', gone);
    // The client may have left while the start was looked up: then no close event comes.
    if (request.raw.destroyed || reply.raw.destroyed) gone();

    reply.hijack();
    reply.raw.writeHead(200, EVENT_STREAM_HEADERS);
    reply.raw.write(': herald live stream\n\n');

    // The first read waits for the connection (briefly), rather than fail and back off.
    if (reader.status !== 'ready') {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 2000);
        reader.once('ready', () => resolve(clearTimeout(timer)));
      });
    }
    let cursor = start;
    while (!closed) {
      let reply_: [string, [string, string[]][]][] | null;
      try {
        reply_ = await reader.xread('COUNT', 500, 'BLOCK', BLOCK_MS, 'STREAMS', keys.stream, cursor);
      } catch {
        if (closed) break;
        // Redis is away (or the connection is still being made): say so, and try again shortly.
        reply.raw.write(': waiting for redis\n\n');
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      const entries = reply_?.[0]?.[1] ?? [];
      if (entries.length === 0) {
        reply.raw.write(': keep-alive\n\n');
        continue;
      }
      let chunk = '';
      for (const [id, fields] of entries) {
        cursor = id;
        const decoded = decodeEntry(fields);
        const event = decoded.ok
          ? {
              id,
              notificationId: decoded.notification.id,
              type: decoded.notification.type,
              userId: decoded.notification.userId,
              channels: decoded.notification.channels ?? null,
              ts: decoded.notification.ts,
            }
          : { id, malformed: decoded.error.message };
        chunk += `id: ${id}\nevent: entry\ndata: ${JSON.stringify(event)}\n\n`;
      }
      // Backpressure: a slow reader (`herald tail | less`) must not make the publisher buffer the stream.
      if (!reply.raw.write(chunk) && !closed)
        await new Promise((resolve) => reply.raw.once('drain', resolve).once('close', resolve));
    }
    end();
  });
}
