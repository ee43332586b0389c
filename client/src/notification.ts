import { z } from 'zod';
import { CHANNELS } from './glossary.js';

/**
 * The notification schema, in one place: the publisher validates requests with it, the codec
 * validates stream entries with it, the client types its calls with it.
 */

export const NOTIFICATION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
export const TYPE_PATTERN = /^[a-z0-9][a-z0-9_.:-]*$/;
export const E164_PATTERN = /^\+[1-9]\d{1,14}$/;
/** Serialised size limit of `data`, in bytes. */
export const DATA_MAX_BYTES = 1024;
// Control characters other than tab, newline and carriage return have no place in text meant for people.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
// A title is one line (it becomes a mail subject): no line breaks either, so none can inject a header.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const LINE_BREAKS_OR_CONTROL = /[\u0000-\u001f\u007f\u2028\u2029]/;

export const notificationIdSchema = z
  .string()
  .regex(NOTIFICATION_ID_PATTERN, 'expected 1 to 128 characters of A-Z a-z 0-9 . _ : -');

export const userIdSchema = z
  .string()
  .min(1, 'expected 1 to 128 characters')
  .max(128, 'expected 1 to 128 characters')
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not contain control characters')
  // A lone surrogate ("\ud800" in JSON) becomes U+FFFD on its way to Redis: two user ids would
  // share one user's key and contact data.
  .refine((v) => !/\p{Surrogate}/u.test(v), 'must be well-formed Unicode: no lone surrogate');

export const typeSchema = z
  .string()
  .max(128, 'expected at most 128 characters')
  .regex(TYPE_PATTERN, 'expected lower-case letters, digits and . _ : - starting with a letter or digit');

export const channelSchema = z.enum(CHANNELS, { error: `expected one of ${CHANNELS.join(', ')}` });

export const channelsSchema = z
  .array(channelSchema)
  .min(1, 'expected at least one channel')
  .max(CHANNELS.length)
  .refine((list) => new Set(list).size === list.length, 'must not name a channel twice');

export const titleSchema = z
  .string()
  .max(200, 'expected at most 200 characters')
  .refine((v) => !LINE_BREAKS_OR_CONTROL.test(v), 'must be one line without control characters');

export const bodySchema = z
  .string()
  .min(1, 'expected 1 to 4000 characters')
  .max(4000, 'expected 1 to 4000 characters')
  .refine((v) => !CONTROL_CHARS.test(v), 'must not contain control characters');

export const urlSchema = z
  .string()
  .max(2048, 'expected at most 2048 characters')
  .refine((v) => {
    try {
      const url = new URL(v);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'expected an http or https URL');

export const dataSchema = z.record(z.string(), z.unknown(), { error: 'expected a JSON object' }).refine((v) => {
  try {
    return Buffer.byteLength(JSON.stringify(v)) <= DATA_MAX_BYTES;
  } catch {
    // JSON.stringify recurses: nesting a few thousand levels deep (a 64 KiB body allows more)
    // overflows the stack, and anything that deep is far over the limit anyway.
    return false;
  }
}, `expected at most ${DATA_MAX_BYTES} bytes as JSON`);

export const emailSchema = z.email('expected an email address').max(254, 'expected at most 254 characters');
export const phoneSchema = z
  .string()
  .regex(E164_PATTERN, 'expected a phone number in E.164 form, such as +14155550123');

export const recipientsSchema = z.strictObject({ email: emailSchema.optional(), phone: phoneSchema.optional() });

export const payloadSchema = z.strictObject({
  title: titleSchema.optional(),
  body: bodySchema,
  url: urlSchema.optional(),
  data: dataSchema.optional(),
});

/** An ISO-8601 time with a zone, or epoch milliseconds; gives epoch milliseconds. */
export const instantSchema = z.union(
  [z.number().int().nonnegative().max(8.64e15), z.iso.datetime({ offset: true }).transform((v) => Date.parse(v))],
  { error: 'expected an ISO-8601 time (2026-01-31T12:00:00Z) or epoch milliseconds' },
);

/** The body of `POST /v1/notifications` (and each item of a batch). */
export const publishRequestSchema = z.strictObject({
  id: notificationIdSchema.optional(),
  userId: userIdSchema,
  type: typeSchema,
  title: titleSchema.optional(),
  body: bodySchema,
  url: urlSchema.optional(),
  data: dataSchema.optional(),
  channels: channelsSchema.optional(),
  to: recipientsSchema.optional(),
  expiresAt: instantSchema.refine((ms) => ms > Date.now(), 'must be in the future').optional(),
});
export type PublishRequest = z.input<typeof publishRequestSchema>;
export type ValidPublishRequest = z.output<typeof publishRequestSchema>;

export const BATCH_MAX = 1000;
export const publishBatchRequestSchema = z.strictObject({
  // Items are validated one by one, so one bad item does not hide the others.
  notifications: z
    .array(z.unknown())
    .min(1, `expected 1 to ${BATCH_MAX} notifications`)
    .max(BATCH_MAX, `expected 1 to ${BATCH_MAX} notifications`),
});
