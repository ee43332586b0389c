import { DeliveryError } from '@herald/shared';

/** Error codes nodemailer (or the socket under it) gives when the connection, not the message, failed. */
const CONNECTION_CODES = new Set([
  'ECONNECTION',
  'ESOCKET',
  'ETIMEDOUT',
  'EDNS',
  'ETLS',
  'EPROXY',
  'EPROTOCOL',
  'EMAXLIMIT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Credentials the relay refused or that are missing: the worker's problem, not the message's. */
const AUTH_CODES = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2']);

/**
 * What an SMTP failure means (RFC 5321 reply classes):
 * - a 4xx reply, a connection failure (ESOCKET, ECONNECTION, ETIMEDOUT, EDNS, ...) or anything
 *   unknown: `transient`;
 * - a 5xx reply: `permanent`, except 503 (bad sequence of commands), which says the session was
 *   in the wrong state rather than that the message was refused; nodemailer's own
 *   `isPermanentResponseCode` makes the same exception;
 * - a refused login (EAUTH, even with its 535 reply): `transient`, since every mail would fail
 *   the same way until an operator fixes the credentials, and then a retry succeeds (and
 *   exhausted retries still end in the dead-letter stream).
 * A DeliveryError passes through.
 */
export function classifyEmailError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    code?: unknown;
    responseCode?: unknown;
    message?: unknown;
  };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const detail = describe(code, responseCode, err);
  if (code && AUTH_CODES.has(code))
    return new DeliveryError('transient', `SMTP login failed: ${detail}`, undefined, { cause: err });
  if (responseCode !== undefined && responseCode >= 500 && responseCode <= 599 && responseCode !== 503) {
    return new DeliveryError('permanent', `SMTP server refused the mail: ${detail}`, undefined, { cause: err });
  }
  if (responseCode !== undefined && responseCode >= 400 && responseCode <= 599) {
    return new DeliveryError('transient', `SMTP server deferred the mail: ${detail}`, undefined, { cause: err });
  }
  if (code && CONNECTION_CODES.has(code)) {
    return new DeliveryError('transient', `SMTP connection failed: ${detail}`, undefined, { cause: err });
  }
  // An envelope nodemailer refused before asking the server (no valid recipient): resending
  // the same mail cannot help.
  if (code === 'EENVELOPE' && responseCode === undefined) {
    return new DeliveryError('permanent', `invalid envelope: ${detail}`, undefined, { cause: err });
  }
  return new DeliveryError('transient', `SMTP send failed: ${detail}`, undefined, { cause: err });
}

function describe(code: string | undefined, responseCode: number | undefined, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return [code, responseCode, message].filter((part) => part !== undefined && part !== '').join(' ');
}
