import { z } from 'zod';
import { envInt, workerEnv, type WorkerConfig } from '@herald/shared';

/**
 * The push worker's environment: the common worker variables (VAPID_PUBLIC_KEY among them,
 * shared with the publisher, and HERALD_ALLOW_PRIVATE_PUSH) plus the VAPID signing details.
 *
 * The keys are optional here so that a dry run (HERALD_DRY_RUN=true) starts without them; a
 * value that is set must be well formed. createPushDriver insists on them when it is going to
 * send.
 */
export const pushEnv = {
  ...workerEnv('push'),
  /** The VAPID private key (base64url, 32 bytes decoded), the pair of VAPID_PUBLIC_KEY. Required unless dry run. */
  VAPID_PRIVATE_KEY: z
    .string()
    .trim()
    .optional()
    .refine((v) => v === undefined || (/^[A-Za-z0-9_-]+={0,2}$/.test(v) && Buffer.from(v, 'base64url').length === 32), {
      message: 'expected a base64url P-256 private key (32 bytes decoded)',
    }),
  /** Who push services can contact about this sender: a `mailto:` or `https:` URL. Required unless dry run. */
  VAPID_SUBJECT: z
    .string()
    .trim()
    .optional()
    .refine((v) => v === undefined || isVapidSubject(v), { message: 'expected a mailto: or https: URL' }),
  /**
   * How long a push service keeps a message for an offline device when the notification has no
   * expiry, in seconds. Default 86400 (a day); at most 2419200 (4 weeks).
   */
  HERALD_PUSH_TTL_S: envInt(86_400, 0, 2_419_200),
};

export type PushConfig = z.output<z.ZodObject<typeof pushEnv>> & WorkerConfig;

function isVapidSubject(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'mailto:' && url.pathname.includes('@')) || (url.protocol === 'https:' && url.hostname !== '')
    );
  } catch {
    return false;
  }
}
