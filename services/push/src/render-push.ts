import { createHash } from 'node:crypto';
import type { Notification } from '@herald/shared';

/** Largest serialized payload, in bytes: well under the 4096 bytes a push message may carry once encrypted. */
export const PUSH_PAYLOAD_MAX_BYTES = 3072;

/** What the service worker receives, as JSON. */
export interface PushPayload {
  id: string;
  type: string;
  title?: string;
  body: string;
  url?: string;
  data?: Record<string, unknown>;
}

/** One push message: the JSON text to encrypt and the web-push options that depend on the notification. */
export interface PushMessage {
  payload: string;
  /** Seconds the push service keeps the message for an offline device. */
  TTL: number;
  /**
   * Lets the push service replace an undelivered copy (a retry) instead of queueing both: at most
   * 32 base64url characters.
   */
  topic: string;
}

/**
 * The push message for one notification. Pure: `now` (epoch ms) and the default TTL (s) are given.
 * - payload: JSON `{id, type, title, body, url, data}` of at most 3072 bytes. The body is
 *   shortened with `…` first; if that is not enough (a long url, title and data together),
 *   `data` is dropped, then the title shortened, then the url dropped. The JSON stays whole.
 * - TTL: the seconds left until `expiresAt` (rounded up, at least 0) when it is set, else the default.
 * - topic: from the notification id, so every attempt at one notification shares it.
 */
export function renderPush(n: Notification, options: { now: number; defaultTtlS: number }): PushMessage {
  return {
    payload: fitPayload(payloadOf(n)),
    TTL: n.expiresAt === undefined ? options.defaultTtlS : Math.max(0, Math.ceil((n.expiresAt - options.now) / 1000)),
    topic: pushTopic(n.id),
  };
}

/** base64url(sha256(id)), the first 32 characters. */
export function pushTopic(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 32);
}

function payloadOf(n: Notification): PushPayload {
  const p: PushPayload = { id: n.id, type: n.type, body: n.payload.body };
  if (n.payload.title !== undefined) p.title = n.payload.title;
  if (n.payload.url !== undefined) p.url = n.payload.url;
  if (n.payload.data !== undefined) p.data = n.payload.data;
  return p;
}

function size(p: PushPayload): number {
  return Buffer.byteLength(JSON.stringify(p));
}

function fitPayload(full: PushPayload): string {
  if (size(full) <= PUSH_PAYLOAD_MAX_BYTES) return JSON.stringify(full);
  let p = shortenField(full, 'body');
  if (size(p) > PUSH_PAYLOAD_MAX_BYTES && p.data !== undefined) {
    const { data: _dropped, ...rest } = full;
    p = shortenField(rest, 'body');
  }
  if (size(p) > PUSH_PAYLOAD_MAX_BYTES && p.title !== undefined) p = shortenField(p, 'title');
  if (size(p) > PUSH_PAYLOAD_MAX_BYTES && p.url !== undefined) {
    const { url: _dropped, ...rest } = p;
    p = rest;
  }
  return JSON.stringify(p);
}

/**
 * `p` with `field` cut to the longest prefix (in whole code points) that, followed by `…`,
 * keeps the payload within the limit; just `…` if none does.
 */
function shortenField(p: PushPayload, field: 'body' | 'title'): PushPayload {
  const chars = Array.from(p[field] ?? '');
  const withPrefix = (count: number): PushPayload => ({
    ...p,
    [field]: `${chars.slice(0, count).join('').trimEnd()}…`,
  });
  if (size(p) <= PUSH_PAYLOAD_MAX_BYTES) return p;
  // Largest count whose shortened payload fits; the size grows with count, so bisect.
  let lo = 0;
  let hi = chars.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (size(withPrefix(mid)) <= PUSH_PAYLOAD_MAX_BYTES) lo = mid;
    else hi = mid - 1;
  }
  return withPrefix(lo);
}
