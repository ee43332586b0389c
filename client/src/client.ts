import type { Issue } from './errors.js';
import { isErrorCode, ERRORS } from './errors.js';
import { publishRequestSchema, type PublishRequest } from './notification.js';
import type { DeadLetterView, GroupStatus, NotificationStatusView } from './views.js';
import { pushSubscriptionSchema, type PushSubscription } from './push-subscription.js';
import { userRequestSchema, type Preferences, type UserRequest } from './user.js';
import { parseOrThrow } from './validation.js';

/**
 * A typed client for upstream apps, on `fetch` and the same schemas the publisher validates
 * with: a bad notification fails here, before any request, with the same issues the API gives.
 *
 * ```ts
 * const herald = new HeraldClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: process.env.HERALD_API_KEY });
 * const { id } = await herald.publish({ userId: 'u1', type: 'otp', body: 'Your code is 123456' });
 * ```
 */
export interface HeraldClientOptions {
  /** The publisher's base URL, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Per-request time-out in ms. Default 10000. */
  timeoutMs?: number;
  /** A fetch implementation; default the global one. */
  fetch?: typeof fetch;
}

/**
 * A failed call. `code` is one of the registry's codes (`HERALD_ERR_VALIDATION`, ...), or
 * `HERALD_ERR_NETWORK` when no answer came (status 0). Branch on `code` or `retryable`.
 */
export class HeraldApiError extends Error {
  override readonly name = 'HeraldApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    readonly issues?: Issue[],
  ) {
    super(message);
  }
}

export interface PublishResult {
  id: string;
  streamId: string;
  /** `accepted` when this call appended it, `duplicate` when the id was already published. */
  status: 'accepted' | 'duplicate';
}

export type BatchItemResult =
  | { id: string; streamId: string; status: 'accepted' | 'duplicate' }
  | { error: { code: string; message: string; issues?: Issue[] } };

export interface UserView {
  userId: string;
  email?: string;
  phone?: string;
  locale?: string;
  preferences: Preferences;
  pushSubscriptions: { endpoint: string; createdAt: string }[];
}

export interface ReplayResult {
  group: string;
  /** The first stream id the replay walks. */
  from: string;
  /** How many entries it walks. */
  entries: number;
  /** The new delivery pass, with `resend`. */
  pass?: number;
}

/** One event of the live stream (`GET /v1/stream`). */
export interface StreamEvent {
  id: string;
  notificationId?: string;
  type?: string;
  userId?: string;
  channels?: string[] | null;
  ts?: number;
  malformed?: string;
}

export class HeraldClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: HeraldClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** Publish one notification. Safe to retry with the same `id` (or `idempotencyKey`). */
  async publish(notification: PublishRequest, options: { idempotencyKey?: string } = {}): Promise<PublishResult> {
    parseOrThrowClient(publishRequestSchema, notification, 'The notification');
    const headers: Record<string, string> = options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {};
    const { status, body } = await this.request<{ id: string; streamId: string }>(
      'POST',
      '/v1/notifications',
      notification,
      headers,
    );
    return { ...body, status: status === 202 ? 'accepted' : 'duplicate' };
  }

  /** Publish up to 1000 notifications; results come back in order, one per item. */
  async publishBatch(notifications: PublishRequest[]): Promise<BatchItemResult[]> {
    const { body } = await this.request<{ results: BatchItemResult[] }>('POST', '/v1/notifications/batch', {
      notifications,
    });
    return body.results;
  }

  async getStatus(id: string): Promise<NotificationStatusView> {
    return (await this.request<NotificationStatusView>('GET', `/v1/notifications/${encodeURIComponent(id)}`)).body;
  }

  /**
   * Replace a user's contact data and preferences (push subscriptions are kept). With a publish
   * key, a field stored and left out is refused (403): removing data needs an admin key.
   */
  async putUser(userId: string, user: UserRequest): Promise<UserView> {
    parseOrThrowClient(userRequestSchema, user, 'The user');
    return (await this.request<UserView>('PUT', userPath(userId), user)).body;
  }

  async getUser(userId: string): Promise<UserView> {
    return (await this.request<UserView>('GET', userPath(userId))).body;
  }

  /** Remove a user's contact data and push subscriptions. */
  async deleteUser(userId: string): Promise<void> {
    await this.request('DELETE', userPath(userId));
  }

  async addPushSubscription(userId: string, subscription: PushSubscription): Promise<{ endpoint: string }> {
    parseOrThrowClient(pushSubscriptionSchema, subscription, 'The push subscription');
    return (await this.request<{ endpoint: string }>('POST', `${userPath(userId)}/push-subscriptions`, subscription))
      .body;
  }

  async removePushSubscription(userId: string, endpoint: string): Promise<void> {
    await this.request('DELETE', `${userPath(userId)}/push-subscriptions?endpoint=${encodeURIComponent(endpoint)}`);
  }

  /**
   * A short-lived user token for `userId`'s browser (HERALD_USER_TOKEN_SECRETS): it registers and
   * removes that user's push subscriptions and nothing else. Hand it to the page, never a key.
   */
  async createUserToken(userId: string): Promise<{ token: string; userId: string; expiresAt: string }> {
    return (
      await this.request<{ token: string; userId: string; expiresAt: string }>('POST', `${userPath(userId)}/tokens`)
    ).body;
  }

  async getVapidPublicKey(): Promise<string> {
    return (await this.request<{ publicKey: string }>('GET', '/v1/push/vapid-public-key')).body.publicKey;
  }

  /** Each channel's consumer group (admin). */
  async groups(): Promise<GroupStatus[]> {
    return (await this.request<{ groups: GroupStatus[] }>('GET', '/v1/groups')).body.groups;
  }

  /** Walk a channel's group again from `from` (`0`, a stream id or an ISO-8601 time) (admin). */
  async replay(channel: string, from: string, options: { resend?: boolean } = {}): Promise<ReplayResult> {
    const body = { from, ...(options.resend ? { resend: true } : {}) };
    return (await this.request<ReplayResult>('POST', `/v1/groups/${encodeURIComponent(channel)}/replay`, body)).body;
  }

  /** A page of dead letters (admin); pass `next` back as `after` for the following page. */
  async deadLetters(
    query: { channel?: string; limit?: number; after?: string } = {},
  ): Promise<{ deadLetters: DeadLetterView[]; next: string | null }> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const qs = params.size ? `?${params.toString()}` : '';
    return (await this.request<{ deadLetters: DeadLetterView[]; next: string | null }>('GET', `/v1/dead-letters${qs}`))
      .body;
  }

  /** Append a dead letter's notification again for its channel, and remove the letter (admin). */
  async redrive(dlqId: string): Promise<{ id: string; channel: string; streamId: string }> {
    return (
      await this.request<{ id: string; channel: string; streamId: string }>(
        'POST',
        `/v1/dead-letters/${encodeURIComponent(dlqId)}/redrive`,
      )
    ).body;
  }

  /** Remove a dead letter (admin). */
  async dropDeadLetter(dlqId: string): Promise<void> {
    await this.request('DELETE', `/v1/dead-letters/${encodeURIComponent(dlqId)}`);
  }

  /**
   * Follow the stream live (admin): yields one event per new entry, from now or after `from`,
   * until `signal` aborts.
   */
  async *tail(options: { from?: string; signal?: AbortSignal } = {}): AsyncGenerator<StreamEvent> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const qs = options.from ? `?from=${encodeURIComponent(options.from)}` : '';
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}/v1/stream${qs}`, {
        headers,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      if (options.signal?.aborted) return;
      throw new HeraldApiError(
        0,
        'HERALD_ERR_NETWORK',
        `No answer from ${this.baseUrl}: ${(err as Error).message}`,
        true,
      );
    }
    if (!response.ok || !response.body) await this.fail(response, 'GET', '/v1/stream');
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((line) => line.startsWith('data: '));
          if (data) yield JSON.parse(data.slice(6)) as StreamEvent;
        }
      }
    } catch (err) {
      if (!options.signal?.aborted) {
        throw new HeraldApiError(
          0,
          'HERALD_ERR_NETWORK',
          `The live stream from ${this.baseUrl} broke off: ${(err as Error).message}`,
          true,
        );
      }
    }
  }

  private async fail(response: Response, method: string, path: string): Promise<never> {
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // A proxy's HTML error page, say: reported below with the status.
    }
    const error = (parsed as { error?: { code?: unknown; message?: unknown; issues?: Issue[] } } | undefined)?.error;
    const code = typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`;
    const retryable = isErrorCode(code) ? ERRORS[code].retryable : response.status >= 500 || response.status === 429;
    const message =
      typeof error?.message === 'string' ? error.message : `${method} ${path} answered ${response.status}`;
    throw new HeraldApiError(response.status, code, message, retryable, error?.issues);
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new HeraldApiError(
        0,
        'HERALD_ERR_NETWORK',
        `No answer from ${this.baseUrl}: ${(err as Error).message}`,
        true,
      );
    }
    if (!response.ok) await this.fail(response, method, path);
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    return { status: response.status, body: parsed as T };
  }
}

function userPath(userId: string): string {
  return `/v1/users/${encodeURIComponent(userId)}`;
}

function parseOrThrowClient(schema: Parameters<typeof parseOrThrow>[0], value: unknown, what: string): void {
  try {
    parseOrThrow(schema, value, what);
  } catch (err) {
    const e = err as { code: string; message: string; status: number; retryable: boolean; issues?: Issue[] };
    throw new HeraldApiError(e.status, e.code, e.message, e.retryable, e.issues);
  }
}
