import type { Preferences } from '@herald/client';

/**
 * A user's hash (`keys.user(userId)`): contact data and preferences, written by the user routes
 * and read by the workers, both through this codec.
 *
 * | field       | what                                   |
 * | ----------- | -------------------------------------- |
 * | `email`     | address                                |
 * | `phone`     | E.164 number                           |
 * | `locale`    | BCP 47 tag                             |
 * | `prefs`     | preferences as JSON (see user.ts)      |
 * | `updatedAt` | epoch ms of the last write             |
 */
export const USER_FIELDS = Object.freeze({
  email: 'email',
  phone: 'phone',
  locale: 'locale',
  preferences: 'prefs',
  updatedAt: 'updatedAt',
});

/** A user as stored. Empty preferences are stored as none. */
export interface StoredUser {
  email?: string;
  phone?: string;
  locale?: string;
  preferences?: Preferences;
  updatedAt?: number;
}

/** The hash fields of a user (what a PUT replaces the whole hash with). */
export function encodeUser(user: StoredUser): Record<string, string> {
  const fields: Record<string, string> = {};
  if (user.email) fields[USER_FIELDS.email] = user.email;
  if (user.phone) fields[USER_FIELDS.phone] = user.phone;
  if (user.locale) fields[USER_FIELDS.locale] = user.locale;
  if (user.preferences && Object.keys(user.preferences).length > 0)
    fields[USER_FIELDS.preferences] = JSON.stringify(user.preferences);
  if (user.updatedAt !== undefined) fields[USER_FIELDS.updatedAt] = String(user.updatedAt);
  return fields;
}

/**
 * A user's hash as read (HGETALL). Preferences that do not decode are left out (a worker
 * delivers as if there were none), or with `strict` throw: an API that shows the user must not
 * show a corrupt record as an empty one.
 */
export function decodeUser(hash: Record<string, string> | null | undefined, strict = false): StoredUser {
  const user: StoredUser = {};
  if (!hash) return user;
  const email = hash[USER_FIELDS.email];
  const phone = hash[USER_FIELDS.phone];
  const locale = hash[USER_FIELDS.locale];
  const preferences = hash[USER_FIELDS.preferences];
  const updatedAt = Number(hash[USER_FIELDS.updatedAt]);
  if (email) user.email = email;
  if (phone) user.phone = phone;
  if (locale) user.locale = locale;
  if (preferences) {
    const parsed = strict ? (JSON.parse(preferences) as unknown) : safeJson(preferences);
    if (parsed && typeof parsed === 'object' && hasKeys(parsed)) user.preferences = parsed as Preferences;
  }
  if (Number.isFinite(updatedAt) && hash[USER_FIELDS.updatedAt] !== undefined) user.updatedAt = updatedAt;
  return user;
}

function hasKeys(value: object): boolean {
  for (const _ in value) return true;
  return false;
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
