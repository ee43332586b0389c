import webpush from 'web-push';
import { DeliveryError } from '@herald/shared';
import { parseRetryAfter } from '@herald/shared';

/**
 * What a push service's answer means (RFC 8030):
 * - 404 or 410: the subscription is `gone` (the runtime removes it);
 * - 429 (with its Retry-After as `retryAfterMs`) or any 5xx: `transient`;
 * - any other 4xx (400 bad request, 403 VAPID refused, 413 payload too large): `permanent`;
 * - a network error (refused, reset, time-out, TLS) or anything unknown: `transient`.
 * A DeliveryError passes through (the private-address check throws one).
 */
export function classifyPushError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof webpush.WebPushError) {
    const status = err.statusCode;
    // Cut generously: the runtime masks the endpoint in it first, then cuts to 500 characters, and
    // an endpoint cut in half here would no longer be recognised.
    const detail = `${status}${err.body ? `: ${err.body.slice(0, 4000)}` : ''}`;
    if (status === 404 || status === 410) {
      return new DeliveryError('gone', `push subscription is gone (${detail})`, undefined, { cause: err });
    }
    if (status === 429) {
      return new DeliveryError(
        'transient',
        `push service answered ${detail}`,
        parseRetryAfter(err.headers['retry-after']),
        { cause: err },
      );
    }
    if (status >= 500)
      return new DeliveryError('transient', `push service answered ${detail}`, undefined, { cause: err });
    if (status >= 400)
      return new DeliveryError('permanent', `push service refused the message (${detail})`, undefined, { cause: err });
  }
  return new DeliveryError('transient', `push request failed: ${describe(err)}`, undefined, { cause: err });
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}
