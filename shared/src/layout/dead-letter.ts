import { streamIdTime } from '../stream-ids.js';
import type { DeadLetterView } from '@herald/client';

/**
 * In the dead-letter stream (`{<stream>}:dlq`) an entry holds the letter's own fields first, in
 * this order: `channel`, `streamId`, `id`, `reason`, `attempts`, `error`; then the original
 * entry's fields, as they were. toDeadLetterView reads them into the API's view.
 */

/** How many list items the letter's own fields take before the original entry's. */
export const DEAD_LETTER_META_ITEMS = 12;

/** Most of an entry's original fields copied into its dead letter (Lua's unpack has a limit). */
const DEAD_LETTER_MAX_FIELDS = 2000;

/** A dead letter's own fields, before the original entry's. */
export type DeadLetterMeta = Pick<DeadLetterView, 'channel' | 'streamId' | 'id' | 'reason' | 'attempts' | 'error'>;

/**
 * A dead letter's fields and values as appended: its own first, in the order toDeadLetterView
 * reads them (the settle script counts dead letters by the value of the first, the channel),
 * then the original entry's.
 */
export function encodeDeadLetter(meta: DeadLetterMeta, entryFields: readonly string[]): string[] {
  // Laid out by hand: one field and its value per line.
  // prettier-ignore
  return [
    'channel', meta.channel,
    'streamId', meta.streamId,
    'id', meta.id,
    'reason', meta.reason,
    'attempts', String(meta.attempts),
    'error', meta.error,
    ...entryFields.slice(0, DEAD_LETTER_MAX_FIELDS),
  ];
}

/** The channel a dead letter's fields name (its first value), or `unknown`. */
export function deadLetterChannel(fields: readonly string[]): string {
  return fields[0] === 'channel' && fields[1] !== undefined ? fields[1] : 'unknown';
}

export function toDeadLetterView(dlqId: string, fields: string[]): DeadLetterView {
  const meta: Record<string, string> = {};
  for (let i = 0; i < DEAD_LETTER_META_ITEMS; i += 2) meta[fields[i]!] = fields[i + 1] ?? '';
  const entry: Record<string, string> = {};
  for (let i = DEAD_LETTER_META_ITEMS; i + 1 < fields.length; i += 2) entry[fields[i]!] ??= fields[i + 1]!;
  return {
    dlqId,
    channel: meta.channel ?? '',
    streamId: meta.streamId ?? '',
    id: meta.id ?? '',
    reason: meta.reason ?? '',
    attempts: Number(meta.attempts ?? 0),
    error: meta.error ?? '',
    createdAt: new Date(streamIdTime(dlqId)).toISOString(),
    entry,
  };
}
