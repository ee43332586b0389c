import nodemailer from 'nodemailer';
import {
  ConfigError,
  DeliveryError,
  transportTimeoutMs,
  type ChannelDriver,
  type WorkerServices,
} from '@herald/shared';
import { classifyEmailError } from './classify-email-error.js';
import type { EmailConfig } from './config.js';
import { renderEmail } from './render-email.js';

/**
 * The email channel: one mail per notification to `to.email`, else the user's address, over a
 * pooled SMTP connection: up to HERALD_CONCURRENCY connections but at most 10 (many relays
 * refuse more), unless SMTP_URL says `?maxConnections=`; 100 mails each. Mails beyond the pool
 * wait in it; one that waits past the send time-out still goes out, and the runtime marks it
 * delivered when it does (its delivery claim holds meanwhile, so nothing sends it twice). Connection,
 * greeting, DNS and socket time-outs are twice HERALD_SEND_TIMEOUT_MS (transportTimeoutMs), unless
 * SMTP_URL's query sets them. With HERALD_DRY_RUN the SMTP variables may be missing, since nothing is sent.
 */
export function createEmailDriver(config: EmailConfig, services: WorkerServices): ChannelDriver {
  const problems: string[] = [];
  if (!config.SMTP_URL) problems.push('SMTP_URL: required, an smtp:// or smtps:// URL');
  if (!config.EMAIL_FROM) problems.push('EMAIL_FROM: required, an address or Name <address>');
  if (problems.length > 0 && !config.HERALD_DRY_RUN) throw new ConfigError(problems);

  const from = config.EMAIL_FROM;
  const timeout = transportTimeoutMs(config.HERALD_SEND_TIMEOUT_MS);
  const transport =
    config.SMTP_URL && from
      ? nodemailer.createTransport({
          pool: true,
          url: config.SMTP_URL,
          ...(new URL(config.SMTP_URL).searchParams.has('maxConnections')
            ? {}
            : { maxConnections: Math.min(config.HERALD_CONCURRENCY, 10) }),
          connectionTimeout: timeout,
          greetingTimeout: timeout,
          dnsTimeout: timeout,
          socketTimeout: timeout,
        })
      : undefined;
  transport?.on('error', (err: Error) => services.logger.warn({ err: err.message }, 'smtp pool error'));

  return {
    channel: 'email',
    targets(n, user) {
      const address = n.to?.email ?? user.email;
      return address ? [{ key: 'email', address }] : [];
    },
    async send(n, target) {
      if (!transport || !from)
        throw new DeliveryError(
          'permanent',
          'email is not configured (dry run): SMTP_URL and EMAIL_FROM are required to send',
        );
      const message = renderEmail(n, target.address, from);
      // Not raced against `signal`: the runtime stops waiting on its own, and needs this promise
      // to settle with what the server really answered.
      await transport.sendMail(message);
      return { providerId: message.messageId };
    },
    classify: classifyEmailError,
    async close() {
      transport?.close();
    },
  };
}
