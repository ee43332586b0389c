import { CHANNELS, CHANNEL_STATES, type Channel, type ChannelState } from '@herald/client';
import type { ChannelStatusView, NotificationStatusView } from '@herald/client';

/**
 * The one hash Redis keeps per notification (`keys.notification(id)`), so a notification's
 * whole state costs one key: the idempotency record the publisher writes, and the status of
 * each channel the workers write. It expires with the replay window. This module is the only
 * code that spells its fields; the Lua scripts get them from the generated `layout` include
 * (see lua-layout.ts).
 *
 * | field          | written by | what                                                            |
 * | -------------- | ---------- | --------------------------------------------------------------- |
 * | `fp`           | publisher  | fingerprint of the validated notification, for idempotency      |
 * | `iu`           | publisher  | epoch ms until which the id deduplicates (HERALD_IDEMPOTENCY_TTL_S) |
 * | `sid`          | both       | stream id of the entry                                          |
 * | `uid`, `type`  | both       | the notification's user and type                                |
 * | `ts`           | both       | epoch ms the notification was created                           |
 * | `s:<channel>`  | workers    | that channel's status, see encodeChannelStatus                  |
 * | `p:<channel>`  | redrive    | the pass a redrive started for that channel (see passes.ts)     |
 * | `c:<target>`   | workers    | a delivery claim of one target, see CLAIM_MARKS                 |
 */
export const RECORD_FIELDS = Object.freeze({
  fingerprint: 'fp',
  idempotentUntil: 'iu',
  streamId: 'sid',
  userId: 'uid',
  type: 'type',
  createdAt: 'ts',
});

/** Prefixes of the record's per-channel and per-target fields. */
export const RECORD_FIELD_PREFIXES = Object.freeze({ status: 's:', redrivePass: 'p:', claim: 'c:' });

export function statusField(channel: Channel): string {
  return `${RECORD_FIELD_PREFIXES.status}${channel}`;
}

/** The field holding the pass a redrive started for `channel` on this notification. */
export function redrivePassField(channel: Channel): string {
  return `${RECORD_FIELD_PREFIXES.redrivePass}${channel}`;
}

/** The hash field of a delivery claim: `c:<target key>` (`c:email`, `c:push:<hash>`). */
export function claimField(targetKey: string): string {
  return `${RECORD_FIELD_PREFIXES.claim}${targetKey}`;
}

/**
 * What a claim field holds, by its first letter, followed by the pass it belongs to:
 * - `d<pass>`: delivered in that pass: never sent again in it;
 * - `f<pass>`: failed for good in that pass; it does not block a later claim;
 * - `l<pass>|<token>|<untilMs>`: a lease: the attempt holding `<token>` is sending until then.
 * `release` is never stored: it asks the settle script to drop the attempt's own lease.
 */
export const CLAIM_MARKS = Object.freeze({ delivered: 'd', failed: 'f', lease: 'l', release: 'r' });
export type ClaimMark = keyof typeof CLAIM_MARKS;

/** What a claim script answers for one target. */
export const CLAIM_RESULTS = Object.freeze({ ok: 'ok', done: 'done', busy: 'busy' });
export type ClaimResult = keyof typeof CLAIM_RESULTS;

/** The keys of a channel status's compact JSON. */
export const STATUS_KEYS = Object.freeze({
  state: 's',
  attempts: 'a',
  updatedAt: 'u',
  reason: 'r',
  error: 'e',
  providerId: 'p',
  pass: 'n',
});

/** A channel's delivery status as stored. Times are epoch ms. */
export interface ChannelStatus {
  state: ChannelState;
  attempts: number;
  reason?: string;
  error?: string;
  providerId?: string;
  updatedAt: number;
  /** The delivery pass (0 at first; a replay with resend or a redrive starts a new one). */
  pass?: number;
}

/** Compact JSON: a notification's status is kept for days, so its bytes count. */
export function encodeChannelStatus(status: ChannelStatus): string {
  const K = STATUS_KEYS;
  const compact: Record<string, string | number> = {
    [K.state]: status.state,
    [K.attempts]: status.attempts,
    [K.updatedAt]: status.updatedAt,
  };
  if (status.reason !== undefined) compact[K.reason] = status.reason;
  if (status.error !== undefined) compact[K.error] = status.error;
  if (status.providerId !== undefined) compact[K.providerId] = status.providerId;
  if (status.pass) compact[K.pass] = status.pass;
  return JSON.stringify(compact);
}

export function decodeChannelStatus(text: string | undefined): ChannelStatus | undefined {
  if (!text) return undefined;
  const K = STATUS_KEYS;
  try {
    const c = JSON.parse(text) as Record<string, unknown>;
    if (!(CHANNEL_STATES as readonly unknown[]).includes(c[K.state])) return undefined;
    const status: ChannelStatus = {
      state: c[K.state] as ChannelState,
      attempts: typeof c[K.attempts] === 'number' ? (c[K.attempts] as number) : 0,
      updatedAt: typeof c[K.updatedAt] === 'number' ? (c[K.updatedAt] as number) : 0,
    };
    if (typeof c[K.reason] === 'string') status.reason = c[K.reason] as string;
    if (typeof c[K.error] === 'string') status.error = c[K.error] as string;
    if (typeof c[K.providerId] === 'string') status.providerId = c[K.providerId] as string;
    if (typeof c[K.pass] === 'number' && (c[K.pass] as number) > 0) status.pass = c[K.pass] as number;
    return status;
  } catch {
    return undefined;
  }
}

/** The API view of a notification's hash, or undefined when there is none. */
export function toStatusView(id: string, hash: Record<string, string>): NotificationStatusView | undefined {
  const streamId = hash[RECORD_FIELDS.streamId];
  if (!streamId) return undefined;
  const createdAtMs = Number(hash[RECORD_FIELDS.createdAt]) || Number(streamId.split('-')[0]) || 0;
  const createdAt = new Date(createdAtMs).toISOString();
  const channels = {} as Record<Channel, ChannelStatusView>;
  for (const channel of CHANNELS) {
    const status = decodeChannelStatus(hash[statusField(channel)]);
    const { pass: _pass, ...shown } = status ?? {};
    channels[channel] = status
      ? { ...(shown as Omit<ChannelStatus, 'pass'>), updatedAt: new Date(status.updatedAt).toISOString() }
      : { state: 'pending', attempts: 0, updatedAt: createdAt };
  }
  return {
    id,
    userId: hash[RECORD_FIELDS.userId] ?? '',
    type: hash[RECORD_FIELDS.type] ?? '',
    streamId,
    createdAt,
    channels,
  };
}
