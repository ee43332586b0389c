import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis } from 'ioredis';
import {
  HeraldError,
  encodeEntry,
  newNotificationId,
  type Keys,
  type Notification,
  type ValidPublishRequest,
} from '@herald/shared';
import { fingerprint } from './fingerprint.js';
import { redisCall } from './redis-call.js';

const PUBLISH_SCRIPT = readFileSync(new URL('./publish-2.lua', import.meta.url), 'utf8');

export type PublishOutcome =
  | { status: 'accepted' | 'duplicate'; id: string; streamId: string }
  | { status: 'mismatch'; id: string; streamId: string };

export interface PublisherOptions {
  redis: Redis;
  keys: Keys;
  idempotencyTtlS: number;
  /** How long a notification's record lives: the longer of the idempotency and replay windows. */
  recordTtlS: number;
  streamMaxLen: number;
}

type PublishCommand = (
  stream: string,
  record: string,
  ...args: (string | number)[]
) => Promise<[string, string]>;

/** Appends notifications to the stream, once per id (see publish-2.lua). */
export class Publisher {
  constructor(private readonly options: PublisherOptions) {
    options.redis.defineCommand('heraldPublish', { numberOfKeys: 2, lua: PUBLISH_SCRIPT });
  }

  /** The notification a validated request describes, with its id settled. */
  toNotification(request: ValidPublishRequest, headerId: string | undefined, now: number): Notification {
    const payload: Notification['payload'] = { body: request.body };
    if (request.title !== undefined) payload.title = request.title;
    if (request.url !== undefined) payload.url = request.url;
    if (request.data !== undefined) payload.data = request.data;
    const n: Notification = {
      v: 1,
      id: request.id ?? headerId ?? newNotificationId(),
      userId: request.userId,
      type: request.type,
      payload,
      ts: now,
    };
    if (request.channels) n.channels = request.channels;
    if (request.to && (request.to.email || request.to.phone)) n.to = request.to;
    if (request.expiresAt !== undefined) n.expiresAt = request.expiresAt;
    return n;
  }

  async publish(n: Notification): Promise<PublishOutcome> {
    const [outcome] = await this.publishMany([n]);
    return outcome!;
  }

  /** Publish several in one pipelined round trip; outcomes in order. */
  async publishMany(notifications: Notification[]): Promise<PublishOutcome[]> {
    const pipeline = this.options.redis.pipeline() as ChainableCommander & { heraldPublish: PublishCommand };
    for (const n of notifications) pipeline.heraldPublish(...this.args(n));
    const replies = await redisCall(pipeline.exec());
    if (!replies) throw new HeraldError('HERALD_ERR_UNAVAILABLE');
    return replies.map(([err, reply], i) => {
      if (err) throw new HeraldError('HERALD_ERR_UNAVAILABLE', undefined, undefined, { cause: err });
      const [status, streamId] = reply as [string, string];
      return { status: status as PublishOutcome['status'], id: notifications[i]!.id, streamId };
    });
  }

  private args(n: Notification): Parameters<PublishCommand> {
    // The fingerprint covers what the caller asked for, not when it arrived.
    const { ts: _ts, ...content } = n;
    const now = n.ts;
    return [
      this.options.keys.stream,
      this.options.keys.notification(n.id),
      fingerprint(content),
      now,
      this.options.idempotencyTtlS * 1000,
      this.options.recordTtlS,
      this.options.streamMaxLen,
      n.userId,
      n.type,
      ...encodeEntry(n),
    ];
  }
}
