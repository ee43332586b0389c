import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import type * as TwilioResponse from 'twilio/lib/http/response.js';
import { DeliveryError } from '@herald/shared';
import { parseRetryAfter } from '@herald/shared';

/** Where the SDK sends every request. */
export const TWILIO_API_ORIGIN = 'https://api.twilio.com';

/**
 * The HTTP client the twilio SDK sends through (its `httpClient` option), for two things the
 * SDK cannot do by itself:
 * - reach another base URL (a stand-in, a proxy): the origin `https://api.twilio.com` of each
 *   request is replaced with `baseUrl`, whose path, if any, becomes a prefix;
 * - read `Retry-After` on a 429, which the SDK's RestException drops: a 429 becomes a
 *   transient DeliveryError carrying it as `retryAfterMs`.
 * The SDK's own 429 retries are off (they ignore Retry-After and would hold a delivery slot);
 * retries are the runtime's. `timeoutMs` is the request and socket time-out.
 */
export class HeraldTwilioClient extends twilio.RequestClient {
  private readonly base: string | undefined;

  constructor(options: { baseUrl?: string | undefined; timeoutMs: number }) {
    super({ autoRetry: false, timeout: options.timeoutMs, keepAlive: true });
    this.base = options.baseUrl?.replace(/\/+$/, '');
  }

  override async request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<TwilioResponse.default<TData>> {
    const response = await super.request({ ...opts, uri: this.rewrite(opts.uri) });
    if (response.statusCode === 429) {
      const retryAfterMs = parseRetryAfter(header(response.headers, 'retry-after'));
      const body = response.body as { code?: unknown; message?: unknown } | undefined;
      const detail = typeof body?.message === 'string' ? `: ${body.message}` : '';
      throw new DeliveryError('transient', `Twilio answered 429 Too Many Requests${detail}`, retryAfterMs);
    }
    return response;
  }

  /** Close the kept-alive connections (the SDK's https agent; an http base URL uses Node's global agent). */
  close(): void {
    const agent = this.axios.defaults.httpsAgent as { destroy?: () => void } | undefined;
    agent?.destroy?.();
  }

  /** `https://api.twilio.com/2010-04-01/...` → `<base>/2010-04-01/...`. */
  rewrite(uri: string): string {
    if (!this.base) return uri;
    const url = new URL(uri);
    return `${this.base}${url.pathname}${url.search}`;
  }
}

function header(headers: unknown, name: string): unknown {
  if (!headers || typeof headers !== 'object') return undefined;
  const withGet = headers as { get?: (name: string) => unknown };
  if (typeof withGet.get === 'function') return withGet.get(name);
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}
