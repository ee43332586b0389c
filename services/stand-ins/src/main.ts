import { createECDH } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPushStandIn } from './push.js';
import { startSmtpStandIn } from './smtp.js';
import { startTwilioStandIn } from './twilio.js';

/**
 * `npm run stand-ins`: the three local protocol peers in one process, for trying Herald on one
 * machine without real providers. It writes `.herald/local.env` with everything the publisher
 * and the workers need to use them, prints a push subscription to register, and prints every
 * email, SMS and (decrypted) push it receives.
 *
 * Ports: STANDIN_SMTP_PORT (2525), STANDIN_TWILIO_PORT (4010), STANDIN_PUSH_PORT (4443).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const stateDir = join(root, '.herald');
mkdirSync(stateDir, { recursive: true });

/** VAPID keys are made once and kept, so subscriptions stay valid across restarts of the workers. */
function vapidKeys(): { publicKey: string; privateKey: string } {
  const file = join(stateDir, 'vapid.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const keys = { publicKey: ecdh.getPublicKey('base64url'), privateKey: ecdh.getPrivateKey('base64url') };
  writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}

const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const vapid = vapidKeys();
const smtp = await startSmtpStandIn({ port: port('STANDIN_SMTP_PORT', 2525) });
const twilio = await startTwilioStandIn({ port: port('STANDIN_TWILIO_PORT', 4010) });
const push = await startPushStandIn({ port: port('STANDIN_PUSH_PORT', 4443), vapidPublicKey: vapid.publicKey });

const env = {
  SMTP_URL: smtp.url,
  EMAIL_FROM: 'Herald <notify@herald.localhost>',
  TWILIO_ACCOUNT_SID: twilio.accountSid,
  TWILIO_AUTH_TOKEN: twilio.authToken,
  TWILIO_FROM: '+15005550006',
  TWILIO_BASE_URL: twilio.baseUrl,
  VAPID_PUBLIC_KEY: vapid.publicKey,
  VAPID_PRIVATE_KEY: vapid.privateKey,
  VAPID_SUBJECT: 'mailto:ops@herald.localhost',
  // The push stand-in listens on 127.0.0.1 with a self-signed certificate.
  HERALD_ALLOW_PRIVATE_PUSH: 'true',
  NODE_EXTRA_CA_CERTS: push.caCertPath,
};
const envFile = join(stateDir, 'local.env');
writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}='${v}'`).join('\n') + '\n', { mode: 0o600 });

const subscription = push.createSubscription();
process.stdout.write(
  [
    'Stand-ins are up:',
    `  SMTP              ${smtp.url}`,
    `  Twilio-compatible ${twilio.baseUrl}`,
    `  Web Push (HTTPS)  ${push.origin}`,
    `Their settings are in ${envFile}; load them in each terminal with:  set -a; . .herald/local.env; set +a`,
    'A push subscription on the stand-in, to register for a user:',
    `  curl -s -X POST http://127.0.0.1:3000/v1/users/demo/push-subscriptions -H 'content-type: application/json' -d '${JSON.stringify(subscription)}'`,
    'Waiting for messages (Ctrl+C stops).',
    '',
  ].join('\n'),
);

const seen = { mail: 0, sms: 0, push: 0 };
const timer = setInterval(() => {
  for (const mail of smtp.messages.slice(seen.mail)) {
    process.stdout.write(`[email] to ${mail.to.join(', ')}: "${mail.subject}" ${JSON.stringify(mail.text.trim())} (${mail.messageId})\n`);
  }
  for (const sms of twilio.messages.slice(seen.sms)) {
    process.stdout.write(`[sms]   to ${sms.to} from ${sms.from ?? sms.messagingServiceSid}: ${JSON.stringify(sms.body)} (${sms.sid})\n`);
  }
  for (const p of push.received.slice(seen.push)) {
    process.stdout.write(`[push]  ttl ${p.ttl}s topic ${p.topic ?? '-'}, decrypted: ${p.payload}\n`);
  }
  seen.mail = smtp.messages.length;
  seen.sms = twilio.messages.length;
  seen.push = push.received.length;
}, 200);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    clearInterval(timer);
    void Promise.all([smtp.close(), twilio.close(), push.close()]).then(() => process.exit(0));
  });
}
