import {
  encodeEntry,
  newNotificationId,
  type Notification,
  type PublishItem,
  type Scripts,
  type ValidPublishRequest,
} from '@herald/shared';
import { fingerprint } from './fingerprint.js';
import { redisCall } from './redis-call.js';

export type PublishOutcome =
  | { status: 'accepted' | 'duplicate'; id: string; streamId: string }
  | { status: 'mismatch'; id: string; streamId: string }
  | { status: 'taken'; id: string; streamId: '' };

/**
 * A notification to publish, with the publishing key's scope as a Lua pattern (UserScope.lua;
 * undefined for every user): an id whose record is another tenant's is answered `taken`.
 */
export interface ScopedNotification {
  n: Notification;
  scope: string | undefined;
}

export interface PublisherOptions {
  scripts: Scripts;
  idempotencyTtlS: number;
  /** How long a notification's record lives: the longer of the idempotency and replay windows. */
  recordTtlS: number;
  streamMaxLen: number;
}

/** The most single publishes one script call carries (a batch request's own limit). */
const MAX_NOTIFICATIONS_A_CALL = 500;

/** Appends notifications to the stream, once per id (see publish-batch-1+n.lua). */
export class Publisher {
  /** Single publishes waiting for the next script call. */
  private waiting: (ScopedNotification & {
    resolve: (outcome: PublishOutcome) => void;
    reject: (err: unknown) => void;
  })[] = [];

  constructor(private readonly options: PublisherOptions) {}

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

  /**
   * Publish one. Requests that arrive together (in the same turn of the event loop) share one
   * script call: at thousands of single requests a second, a Redis write and read each cost
   * more than the rest of the request (see bench/README.md).
   */
  publish(n: Notification, scope?: string): Promise<PublishOutcome> {
    return new Promise<PublishOutcome>((resolve, reject) => {
      this.waiting.push({ n, scope, resolve, reject });
      if (this.waiting.length === 1) setImmediate(() => this.publishWaiting());
    });
  }

  private publishWaiting(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (let from = 0; from < waiting.length; from += MAX_NOTIFICATIONS_A_CALL) {
      const part = waiting.slice(from, from + MAX_NOTIFICATIONS_A_CALL);
      this.publishMany(part).then(
        (outcomes) => part.forEach((w, i) => w.resolve(outcomes[i]!)),
        (err: unknown) => part.forEach((w) => w.reject(err)),
      );
    }
  }

  /** Publish several in one script call (one round trip); outcomes in order. */
  async publishMany(scoped: readonly ScopedNotification[]): Promise<PublishOutcome[]> {
    const { scripts, idempotencyTtlS, recordTtlS, streamMaxLen } = this.options;
    const replies = await redisCall(
      scripts.publishBatch(idempotencyTtlS * 1000, recordTtlS, streamMaxLen, scoped.map(toPublishItem)),
    );
    return replies.map(([status, streamId], i) => ({ status, id: scoped[i]!.n.id, streamId }) as PublishOutcome);
  }
}

function toPublishItem({ n, scope }: ScopedNotification): PublishItem {
  // The fingerprint covers what the caller asked for, not when it arrived.
  const { ts: _ts, ...content } = n;
  return {
    id: n.id,
    fingerprint: fingerprint(content),
    now: n.ts,
    userId: n.userId,
    type: n.type,
    scope: scope ?? '',
    fields: encodeEntry(n),
  };
}
