import { z } from 'zod';
import type { Notification } from '@herald/client';
import {
  channelsSchema,
  channelSchema,
  notificationIdSchema,
  payloadSchema,
  recipientsSchema,
  typeSchema,
  userIdSchema,
} from '@herald/client';

/**
 * The stream-entry codec: the wire format of `user:notifications`, version 1.
 *
 * | field       | value                                                         |
 * | ----------- | ------------------------------------------------------------- |
 * | `v`         | `1`                                                           |
 * | `id`        | the notification id                                           |
 * | `userId`    | the user                                                      |
 * | `type`      | the notification type                                         |
 * | `payload`   | JSON `{title?, body, url?, data?}`                            |
 * | `channels`  | optional comma list of `email`, `sms`, `push`                 |
 * | `to`        | optional JSON `{email?, phone?}`                              |
 * | `expiresAt` | optional, milliseconds since the epoch                        |
 * | `ts`        | milliseconds since the epoch at publish                       |
 *
 * Other producers may XADD entries themselves; fields this version does not know are ignored.
 */
export const WIRE_VERSION = '1';

/** Fields of an entry, in XADD order. */
export function encodeEntry(n: Notification): string[] {
  const fields = [
    'v',
    WIRE_VERSION,
    'id',
    n.id,
    'userId',
    n.userId,
    'type',
    n.type,
    'payload',
    JSON.stringify(n.payload),
  ];
  if (n.channels) fields.push('channels', n.channels.join(','));
  if (n.to) fields.push('to', JSON.stringify(n.to));
  if (n.expiresAt !== undefined) fields.push('expiresAt', String(n.expiresAt));
  fields.push('ts', String(n.ts));
  return fields;
}

/** Why an entry could not be decoded; `id` and `userId` are given when they could be read. */
export class EntryDecodeError extends Error {
  override readonly name = 'EntryDecodeError';
  readonly reason = 'malformed';
  constructor(
    /** The field that was wrong (`payload.body`), or `(entry)`. */
    readonly field: string,
    message: string,
    readonly id?: string,
    readonly userId?: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export type DecodeResult = { ok: true; notification: Notification } | { ok: false; error: EntryDecodeError };

const epochMs = z
  .string()
  .regex(/^\d{1,16}$/, 'expected milliseconds since the epoch')
  .transform(Number);

function json<T extends z.ZodType>(schema: T) {
  return z.string().transform((text, ctx): z.output<T> => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected JSON' });
      return z.NEVER;
    }
    const result = schema.safeParse(value);
    if (!result.success) {
      for (const issue of result.error.issues) ctx.addIssue({ ...issue, code: 'custom', path: issue.path });
      return z.NEVER;
    }
    return result.data;
  });
}

const commaList = z.string().transform((v, ctx) => {
  const list = v.split(',').map((s) => s.trim());
  const result = channelsSchema.safeParse(list);
  if (!result.success) {
    ctx.addIssue({ code: 'custom', message: `expected a comma list of ${channelSchema.options.join(', ')}` });
    return z.NEVER;
  }
  return result.data;
});

const entrySchema = z.object({
  v: z.literal(WIRE_VERSION, { error: `expected ${WIRE_VERSION}` }),
  id: notificationIdSchema,
  userId: userIdSchema,
  type: typeSchema,
  payload: json(payloadSchema),
  channels: commaList.optional(),
  to: json(recipientsSchema).optional(),
  expiresAt: epochMs.optional(),
  ts: epochMs,
});

/**
 * Decode an entry's fields (the flat `[field, value, ...]` list Redis returns). Never throws:
 * an entry that does not fit gives `{ok: false, error}` naming the first field that was wrong.
 */
export function decodeEntry(fields: readonly string[] | null | undefined): DecodeResult {
  if (!Array.isArray(fields) || fields.length % 2 !== 0) {
    return { ok: false, error: new EntryDecodeError('(entry)', 'expected a list of field and value pairs') };
  }
  const record = Object.create(null) as Record<string, string>;
  for (let i = 0; i < fields.length; i += 2) {
    const name = String(fields[i]);
    if (name in record) {
      return { ok: false, error: new EntryDecodeError(name, 'appears more than once', record.id, record.userId) };
    }
    record[name] = String(fields[i + 1]);
  }
  const result = entrySchema.safeParse(record);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const idOk = notificationIdSchema.safeParse(record.id).success;
    const userOk = userIdSchema.safeParse(record.userId).success;
    return {
      ok: false,
      error: new EntryDecodeError(
        issue.path.map(String).join('.') || '(entry)',
        issue.message,
        idOk ? record.id : undefined,
        userOk ? record.userId : undefined,
      ),
    };
  }
  const { channels, to, expiresAt, ...rest } = result.data;
  const notification: Notification = { ...rest, v: 1 };
  if (channels) notification.channels = channels;
  if (to) notification.to = to;
  if (expiresAt !== undefined) notification.expiresAt = expiresAt;
  return { ok: true, notification };
}
