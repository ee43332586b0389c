import { z } from 'zod';
import type { Channel } from './glossary.js';
import { emailSchema, phoneSchema, typeSchema } from './notification.js';

/**
 * A user's contact data and preferences. Preferences map a notification type, or `*` for every
 * type, to the channels the user allows or refuses: `{"marketing": {"sms": false}, "*": {"push": true}}`.
 */
export const channelPreferenceSchema = z.strictObject({
  email: z.boolean().optional(),
  sms: z.boolean().optional(),
  push: z.boolean().optional(),
});

export const PREFERENCES_MAX = 100;

export const preferencesSchema = z
  .record(
    z.union([z.literal('*'), typeSchema], { error: 'expected a notification type or *' }),
    channelPreferenceSchema,
  )
  .refine((v) => Object.keys(v).length <= PREFERENCES_MAX, `expected at most ${PREFERENCES_MAX} entries`);

export const localeSchema = z
  .string()
  .max(35)
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/, 'expected a BCP 47 language tag, such as en or pt-BR');

/** The body of `PUT /v1/users/:userId`. */
export const userRequestSchema = z.strictObject({
  email: emailSchema.optional(),
  phone: phoneSchema.optional(),
  locale: localeSchema.optional(),
  preferences: preferencesSchema.optional(),
});
export type UserRequest = z.input<typeof userRequestSchema>;
export type Preferences = z.output<typeof preferencesSchema>;

/**
 * Whether the user allows `channel` for `type`: the type's preference when it names the
 * channel, else the `*` preference when it names the channel, else allowed.
 */
export function allows(preferences: Preferences | undefined, type: string, channel: Channel): boolean {
  const own = preferences?.[type]?.[channel];
  if (own !== undefined) return own;
  const all = preferences?.['*']?.[channel];
  return all ?? true;
}
