import twilio from 'twilio';
import { DeliveryError } from '@herald/shared';

/**
 * What a Twilio failure means:
 * - 429 (Retry-After is read by HeraldTwilioClient, which throws a DeliveryError for it), any
 *   5xx, a network error (ECONNREFUSED, ECONNABORTED for a time-out, ETIMEDOUT, ECONNRESET,
 *   ...) or anything unknown: `transient`;
 * - 401 (20003, the account's credentials refused): `transient`, since every message would
 *   fail the same way until an operator fixes them, and then a retry succeeds;
 * - any other 4xx, such as 400 with 21211 (invalid To number) or 21610 (recipient opted out):
 *   `permanent`.
 * A DeliveryError passes through.
 */
export function classifySmsError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const status = httpStatus(err);
  if (status !== undefined) {
    const detail = describe(err);
    if (status === 429 || status >= 500 || status === 401) {
      return new DeliveryError('transient', `Twilio answered ${status}: ${detail}`, undefined, { cause: err });
    }
    if (status >= 400)
      return new DeliveryError('permanent', `Twilio refused the message (${status}): ${detail}`, undefined, {
        cause: err,
      });
  }
  return new DeliveryError('transient', `Twilio request failed: ${describe(err)}`, undefined, { cause: err });
}

function httpStatus(err: unknown): number | undefined {
  if (err instanceof twilio.RestException) return err.status;
  return undefined;
}

function describe(err: unknown): string {
  if (err instanceof twilio.RestException)
    return [err.code, err.message].filter((p) => p !== undefined && p !== '').join(' ');
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}
