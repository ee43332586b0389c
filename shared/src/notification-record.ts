import { CHANNELS, CHANNEL_STATES, type Channel, type ChannelState } from './glossary.js';

/**
 * The one hash Redis keeps per notification (`keys.notification(id)`), so a notification's
 * whole state costs one key: the idempotency record the publisher writes, and the status of
 * each channel the workers write. It expires with the replay window.
 *
 * | field          | written by | what                                                            |
 * | -------------- | ---------- | --------------------------------------------------------------- |
 * | `fp`           | publisher  | fingerprint of the validated notification, for idempotency      |
 * | `iu`           | publisher  | epoch ms until which the id deduplicates (HERALD_IDEMPOTENCY_TTL_S) |
 * | `sid`          | both       | stream id of the entry                                          |
 * | `uid`, `type`  | both       | the notification's user and type                                |
 * | `ts`           | both       | epoch ms the notification was created                           |
 * | `s:<channel>`  | workers    | that channel's status, see encodeChannelStatus                  |
 */
export const RECORD_FIELDS = Object.freeze({
  fingerprint: 'fp',
  idempotentUntil: 'iu',
  streamId: 'sid',
  userId: 'uid',
  type: 'type',
  createdAt: 'ts',
});

export function statusField(channel: Channel): string {
  return `s:${channel}`;
}

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

/** The hash field of a delivery claim: `c:<target key>` (`c:email`, `c:push:<hash>`). */
export function claimField(targetKey: string): string {
  return `c:${targetKey}`;
}

/** Compact JSON: a notification's status is kept for days, so its bytes count. */
export function encodeChannelStatus(status: ChannelStatus): string {
  const compact: Record<string, string | number> = { s: status.state, a: status.attempts, u: status.updatedAt };
  if (status.reason !== undefined) compact.r = status.reason;
  if (status.error !== undefined) compact.e = status.error;
  if (status.providerId !== undefined) compact.p = status.providerId;
  if (status.pass) compact.n = status.pass;
  return JSON.stringify(compact);
}

export function decodeChannelStatus(text: string | undefined): ChannelStatus | undefined {
  if (!text) return undefined;
  try {
    const c = JSON.parse(text) as Record<string, unknown>;
    if (!(CHANNEL_STATES as readonly unknown[]).includes(c.s)) return undefined;
    const status: ChannelStatus = {
      state: c.s as ChannelState,
      attempts: typeof c.a === 'number' ? c.a : 0,
      updatedAt: typeof c.u === 'number' ? c.u : 0,
    };
    if (typeof c.r === 'string') status.reason = c.r;
    if (typeof c.e === 'string') status.error = c.e;
    if (typeof c.p === 'string') status.providerId = c.p;
    if (typeof c.n === 'number' && c.n > 0) status.pass = c.n;
    return status;
  } catch {
    return undefined;
  }
}

/** A channel's status as the API shows it (times ISO-8601). */
export interface ChannelStatusView {
  state: ChannelState;
  attempts: number;
  reason?: string;
  error?: string;
  providerId?: string;
  updatedAt: string;
}

/** `GET /v1/notifications/:id`. */
export interface NotificationStatusView {
  id: string;
  userId: string;
  type: string;
  streamId: string;
  createdAt: string;
  channels: Record<Channel, ChannelStatusView>;
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
