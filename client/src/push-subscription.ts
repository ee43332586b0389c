import { z } from 'zod';

/** A browser PushSubscription as `subscription.toJSON()` gives it. */
export const pushSubscriptionSchema = z.object({
  endpoint: z
    .string()
    .max(2048, 'expected at most 2048 characters')
    .refine((v) => {
      try {
        return new URL(v).protocol === 'https:';
      } catch {
        return false;
      }
    }, 'expected an https URL'),
  expirationTime: z.number().nullable().optional(),
  keys: z.strictObject({
    p256dh: z
      .string()
      .regex(/^[A-Za-z0-9_-]+={0,2}$/, 'expected base64url')
      .refine((v) => {
        const raw = Buffer.from(v, 'base64url');
        return raw.length === 65 && raw[0] === 0x04;
      }, 'expected an uncompressed P-256 public key (65 bytes decoded)'),
    auth: z
      .string()
      .regex(/^[A-Za-z0-9_-]+={0,2}$/, 'expected base64url')
      .refine((v) => Buffer.from(v, 'base64url').length === 16, 'expected 16 bytes decoded'),
  }),
});
export type PushSubscription = z.output<typeof pushSubscriptionSchema>;

/** A subscription as stored: what sending needs, and when it was registered. */
export interface StoredPushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  createdAt: number;
}
