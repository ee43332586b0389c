import { z } from 'zod';
import { workerEnv, type WorkerConfig } from '@herald/shared';
import { parseMailbox } from './mailbox.js';

/**
 * The email worker's environment: the common worker variables plus the SMTP relay.
 *
 * The provider variables are optional here so that a dry run (HERALD_DRY_RUN=true) starts
 * without them; a value that is set must be well formed. createEmailDriver insists on them
 * when it is going to send.
 */
export const emailEnv = {
  ...workerEnv('email'),
  /**
   * The SMTP relay: `smtp://user:pass@host:587` (STARTTLS when the server offers it) or
   * `smtps://user:pass@host:465` (TLS from the start). Credentials are URL-encoded in the URL;
   * query options are read the way nodemailer reads them (`?ignoreTLS=true`,
   * `?tls.rejectUnauthorized=false`, `?maxConnections=10`). No default; required unless dry run.
   */
  SMTP_URL: z
    .string()
    .trim()
    .optional()
    .refine((v) => v === undefined || isSmtpUrl(v), { message: 'expected an smtp:// or smtps:// URL' }),
  /**
   * The sender: `alerts@example.com` or `Example Alerts <alerts@example.com>`. Its domain also
   * names the Message-ID (`<notification id@domain>`). No default; required unless dry run.
   */
  EMAIL_FROM: z
    .string()
    .trim()
    .optional()
    .refine((v) => v === undefined || parseMailbox(v) !== undefined, {
      message: 'expected an address or Name <address>',
    })
    .transform((v) => (v === undefined ? undefined : parseMailbox(v))),
};

export type EmailConfig = z.output<z.ZodObject<typeof emailEnv>> & WorkerConfig;

function isSmtpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname !== '';
  } catch {
    return false;
  }
}
