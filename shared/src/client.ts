import type { Issue } from './errors.js';
import { isErrorCode, ERRORS } from './errors.js';
import { publishRequestSchema, type PublishRequest } from './notification.js';
import type { NotificationStatusView } from './notification-record.js';
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
    const { status, body } = await this.request<{ id: string; streamId: string }>('POST', '/v1/notifications', notification, headers);
    return { ...body, status: status === 202 ? 'accepted' : 'duplicate' };
  }

  /** Publish up to 1000 notifications; results come back in order, one per item. */
  async publishBatch(notifications: PublishRequest[]): Promise<BatchItemResult[]> {
    const { body } = await this.request<{ results: BatchItemResult[] }>('POST', '/v1/notifications/batch', { notifications });
    return body.results;
  }

  async getStatus(id: string): Promise<NotificationStatusView> {
    return (await this.request<NotificationStatusView>('GET', `/v1/notifications/${encodeURIComponent(id)}`)).body;
  }

  /** Replace a user's contact data and preferences (push subscriptions are kept). */
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
    return (await this.request<{ endpoint: string }>('POST', `${userPath(userId)}/push-subscriptions`, subscription)).body;
  }

  async removePushSubscription(userId: string, endpoint: string): Promise<void> {
    await this.request('DELETE', `${userPath(userId)}/push-subscriptions?endpoint=${encodeURIComponent(endpoint)}`);
  }

  async getVapidPublicKey(): Promise<string> {
    return (await this.request<{ publicKey: string }>('GET', '/v1/push/vapid-public-key')).body.publicKey;
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
      throw new HeraldApiError(0, 'HERALD_ERR_NETWORK', `No answer from ${this.baseUrl}: ${(err as Error).message}`, true);
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // A proxy's HTML error page, say: reported below with the status.
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown; issues?: Issue[] } } | undefined)?.error;
      const code = typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`;
      const retryable = isErrorCode(code) ? ERRORS[code].retryable : response.status >= 500 || response.status === 429;
      const message = typeof error?.message === 'string' ? error.message : `${method} ${path} answered ${response.status}`;
      throw new HeraldApiError(response.status, code, message, retryable, error?.issues);
    }
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
