import { z } from 'zod';
import { E164_PATTERN, envInt, workerEnv, type WorkerConfig } from '@herald/shared';

/**
 * The SMS worker's environment: the common worker variables plus Twilio's.
 *
 * The credentials are optional here so that a dry run (HERALD_DRY_RUN=true) starts without
 * them; a value that is set must be well formed. createSmsDriver insists on them when it is
 * going to send.
 */
export const smsEnv = {
  ...workerEnv('sms'),
  /** The account SID (`AC` followed by 32 hex digits at Twilio). Required unless dry run. */
  TWILIO_ACCOUNT_SID: z
    .string()
    .trim()
    .optional()
    .refine((v) => v === undefined || /^AC[A-Za-z0-9]{1,64}$/.test(v), {
      message: 'expected an account SID starting with AC',
    }),
  /** The account's auth token. Required unless dry run. */
  TWILIO_AUTH_TOKEN: z.string().trim().optional(),
  /**
   * The sending number in E.164 form (`+14155550123`). This or TWILIO_MESSAGING_SERVICE_SID is
   * required unless dry run.
   */
  TWILIO_FROM: z
    .string()
    .trim()
    .optional()
    .refine((v) => v === undefined || E164_PATTERN.test(v), {
      message: 'expected a phone number in E.164 form, such as +14155550123',
    }),
  /** A Messaging Service (`MG...`) that picks the sender; preferred over TWILIO_FROM when both are set. */
  TWILIO_MESSAGING_SERVICE_SID: z
    .string()
    .trim()
    .optional()
    .refine((v) => v === undefined || /^MG[A-Za-z0-9]{1,64}$/.test(v), {
      message: 'expected a Messaging Service SID starting with MG',
    }),
  /**
   * Where Twilio's API is: replaces `https://api.twilio.com` in every request (a path is kept
   * as a prefix). Default: Twilio itself. Set it for a stand-in or a proxy.
   */
  TWILIO_BASE_URL: z
    .string()
    .trim()
    .optional()
    .refine((v) => v === undefined || isHttpUrl(v), { message: 'expected an http:// or https:// URL' })
    .transform((v) => (v === undefined ? undefined : v.replace(/\/+$/, ''))),
  /** Most messages per second this channel sends, across all replicas (counted in Redis); 0 is no limit. Default 0. */
  HERALD_RATE_PER_S: envInt(0, 0, 100_000),
};

export type SmsConfig = z.output<z.ZodObject<typeof smsEnv>> & WorkerConfig;

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && !url.search && !url.hash;
  } catch {
    return false;
  }
}
