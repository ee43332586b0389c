import nodemailer from 'nodemailer';
import { ConfigError, DeliveryError, type ChannelDriver, type WorkerServices } from '@herald/shared';
import { abortable } from '@herald/shared';
import { classifyEmailError } from './classify-email-error.js';
import type { EmailConfig } from './config.js';
import { renderEmail } from './render-email.js';

/**
 * The email channel: one mail per notification to `to.email`, else the user's address, over a
 * pooled SMTP connection (nodemailer's defaults: 5 connections, 100 mails each). Connection,
 * greeting, DNS and socket time-outs are HERALD_SEND_TIMEOUT_MS, unless SMTP_URL's query sets
 * them. With HERALD_DRY_RUN the SMTP variables may be missing, since nothing is sent.
 */
export function createEmailDriver(config: EmailConfig, services: WorkerServices): ChannelDriver {
  const problems: string[] = [];
  if (!config.SMTP_URL) problems.push('SMTP_URL: required, an smtp:// or smtps:// URL');
  if (!config.EMAIL_FROM) problems.push('EMAIL_FROM: required, an address or Name <address>');
  if (problems.length > 0 && !config.HERALD_DRY_RUN) throw new ConfigError(problems);

  const from = config.EMAIL_FROM;
  const timeout = config.HERALD_SEND_TIMEOUT_MS;
  const transport =
    config.SMTP_URL && from
      ? nodemailer.createTransport({
          pool: true,
          url: config.SMTP_URL,
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
    async send(n, target, signal) {
      if (!transport || !from) throw new DeliveryError('permanent', 'email is not configured (dry run): SMTP_URL and EMAIL_FROM are required to send');
      const message = renderEmail(n, target.address, from);
      await abortable(() => transport.sendMail(message), signal, 'SMTP send');
      return { providerId: message.messageId };
    },
    classify: classifyEmailError,
    async close() {
      transport?.close();
    },
  };
}
