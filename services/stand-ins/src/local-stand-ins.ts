import { createECDH } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPushStandIn, type PushStandIn } from './push.js';
import { startSmtpStandIn, type SmtpStandIn } from './smtp.js';
import { startTwilioStandIn, type TwilioStandIn } from './twilio.js';

/** The three stand-ins as a local stack uses them, with the settings a worker needs for each. */
export interface LocalStandIns {
  smtp: SmtpStandIn;
  twilio: TwilioStandIn;
  push: PushStandIn;
  /** Per channel, the variables that point its worker (and the publisher) at the stand-in. */
  env: { email: Record<string, string>; sms: Record<string, string>; push: Record<string, string> };
  /** The latest of what arrived (up to 50 of each), for the dashboard. */
  outbox(): Outbox;
  /** Print every email, SMS and decrypted push as it arrives; returns a stop function. */
  watch(write: (line: string) => void): () => void;
  close(): Promise<void>;
}

export interface Outbox {
  emails: { to: string[]; subject: string; text: string; messageId: string; receivedAt: number }[];
  sms: { to: string; from?: string; body: string; sid: string; receivedAt: number }[];
  pushes: { endpoint: string; payload: string; ttl: number; receivedAt: number }[];
}

/**
 * VAPID keys made once and kept in `<stateDir>/vapid.json`, so browser subscriptions made with
 * the public key stay valid across restarts.
 */
export function loadOrCreateVapidKeys(stateDir: string): { publicKey: string; privateKey: string } {
  const file = join(stateDir, 'vapid.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string; privateKey: string };
  mkdirSync(stateDir, { recursive: true });
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const keys = { publicKey: ecdh.getPublicKey('base64url'), privateKey: ecdh.getPrivateKey('base64url') };
  writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}

export async function startLocalStandIns(options: {
  vapid: { publicKey: string; privateKey: string };
  ports?: { smtp?: number; twilio?: number; push?: number };
  /** Interface to listen on (default 127.0.0.1), and the name others reach it by. */
  host?: string;
  publicHost?: string;
  /** Fixed Twilio credentials (default: made up at each start). */
  twilio?: { accountSid?: string; authToken?: string };
}): Promise<LocalStandIns> {
  const { vapid, ports = {} } = options;
  const where = {
    ...(options.host ? { host: options.host } : {}),
    ...(options.publicHost ? { publicHost: options.publicHost } : {}),
  };
  const [smtp, twilio, push] = await Promise.all([
    startSmtpStandIn({ port: ports.smtp ?? 0, ...where }),
    startTwilioStandIn({ port: ports.twilio ?? 0, ...where, ...options.twilio }),
    startPushStandIn({ port: ports.push ?? 0, vapidPublicKey: vapid.publicKey, ...where }),
  ]);
  const env = {
    email: { SMTP_URL: smtp.url, EMAIL_FROM: 'Herald <notify@herald.localhost>' },
    sms: {
      TWILIO_ACCOUNT_SID: twilio.accountSid,
      TWILIO_AUTH_TOKEN: twilio.authToken,
      TWILIO_FROM: '+15005550006',
      TWILIO_BASE_URL: twilio.baseUrl,
    },
    push: {
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: 'mailto:ops@herald.localhost',
      // The push stand-in listens on 127.0.0.1 with a self-signed certificate.
      HERALD_ALLOW_PRIVATE_PUSH: 'true',
      NODE_EXTRA_CA_CERTS: push.caCertPath,
    },
  };
  return {
    smtp,
    twilio,
    push,
    env,
    outbox() {
      const last = <T>(items: T[]) => items.slice(-50).reverse();
      return {
        emails: last(smtp.messages).map(({ to, subject, text, messageId, receivedAt }) => ({
          to,
          subject,
          text,
          messageId,
          receivedAt,
        })),
        sms: last(twilio.messages).map(({ to, from, body, sid, receivedAt }) => ({
          to,
          ...(from ? { from } : {}),
          body,
          sid,
          receivedAt,
        })),
        pushes: last(push.received).map(({ endpoint, payload, ttl, receivedAt }) => ({
          endpoint,
          payload,
          ttl,
          receivedAt,
        })),
      };
    },
    watch(write) {
      const seen = { mail: 0, sms: 0, push: 0 };
      const timer = setInterval(() => {
        for (const mail of smtp.messages.slice(seen.mail)) {
          write(
            `[email] to ${mail.to.join(', ')}: "${mail.subject}" ` +
              `${JSON.stringify(mail.text.trim())} (${mail.messageId})`,
          );
        }
        for (const sms of twilio.messages.slice(seen.sms)) {
          write(
            `[sms]   to ${sms.to} from ${sms.from ?? sms.messagingServiceSid}: ` +
              `${JSON.stringify(sms.body)} (${sms.sid})`,
          );
        }
        for (const p of push.received.slice(seen.push)) {
          write(`[push]  ttl ${p.ttl}s topic ${p.topic ?? '-'}, decrypted: ${p.payload}`);
        }
        seen.mail = smtp.messages.length;
        seen.sms = twilio.messages.length;
        seen.push = push.received.length;
      }, 200);
      return () => clearInterval(timer);
    },
    async close() {
      await Promise.all([smtp.close(), twilio.close(), push.close()]);
    },
  };
}
