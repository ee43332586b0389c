import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOrCreateVapidKeys, startLocalStandIns } from './local-stand-ins.js';

/**
 * `npm run stand-ins`: the three local protocol peers in one process, for running the services
 * by hand. It writes `.herald/local.env` with everything the publisher and the workers need to use
 * them, prints a push subscription to register, and prints every email, SMS and (decrypted)
 * push it receives. (`npm start` does all of this and starts the services too.)
 *
 * Ports: STANDIN_SMTP_PORT (2525), STANDIN_TWILIO_PORT (4010), STANDIN_PUSH_PORT (4443).
 * STANDIN_HOST is the interface (default 127.0.0.1) and STANDIN_PUBLIC_HOST the name others
 * reach them by; STANDIN_TWILIO_ACCOUNT_SID and STANDIN_TWILIO_AUTH_TOKEN fix the credentials;
 * VAPID_PUBLIC_KEY with VAPID_PRIVATE_KEY fix the VAPID keys (else made once and kept in
 * .herald/vapid.json); STANDIN_CA_PATH is where the push certificate is copied (for
 * NODE_EXTRA_CA_CERTS in other containers). docker-compose's `local` profile sets them.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const stateDir = join(root, '.herald');
mkdirSync(stateDir, { recursive: true });

const env_ = process.env;
const port = (name: string, fallback: number) => Number(env_[name] ?? fallback);
const vapid =
  env_.VAPID_PUBLIC_KEY && env_.VAPID_PRIVATE_KEY
    ? { publicKey: env_.VAPID_PUBLIC_KEY, privateKey: env_.VAPID_PRIVATE_KEY }
    : loadOrCreateVapidKeys(stateDir);
const standIns = await startLocalStandIns({
  vapid,
  ports: {
    smtp: port('STANDIN_SMTP_PORT', 2525),
    twilio: port('STANDIN_TWILIO_PORT', 4010),
    push: port('STANDIN_PUSH_PORT', 4443),
  },
  ...(env_.STANDIN_HOST ? { host: env_.STANDIN_HOST } : {}),
  ...(env_.STANDIN_PUBLIC_HOST ? { publicHost: env_.STANDIN_PUBLIC_HOST } : {}),
  twilio: {
    ...(env_.STANDIN_TWILIO_ACCOUNT_SID ? { accountSid: env_.STANDIN_TWILIO_ACCOUNT_SID } : {}),
    ...(env_.STANDIN_TWILIO_AUTH_TOKEN ? { authToken: env_.STANDIN_TWILIO_AUTH_TOKEN } : {}),
  },
});
if (env_.STANDIN_CA_PATH) {
  mkdirSync(dirname(env_.STANDIN_CA_PATH), { recursive: true });
  copyFileSync(standIns.push.caCertPath, env_.STANDIN_CA_PATH);
}
const env = { ...standIns.env.email, ...standIns.env.sms, ...standIns.env.push };
const envFile = join(stateDir, 'local.env');
writeFileSync(
  envFile,
  Object.entries(env)
    .map(([k, v]) => `${k}='${v}'`)
    .join('\n') + '\n',
  { mode: 0o600 },
);

const subscription = standIns.push.createSubscription();
process.stdout.write(
  [
    'Stand-ins are up:',
    `  SMTP              ${standIns.smtp.url}`,
    `  Twilio-compatible ${standIns.twilio.baseUrl}`,
    `  Web Push (HTTPS)  ${standIns.push.origin}`,
    `Their settings are in ${envFile}; load them in each terminal with:  set -a; . .herald/local.env; set +a`,
    'A push subscription on the stand-in, to register for a user:',
    '  curl -s -X POST http://127.0.0.1:3000/v1/users/demo/push-subscriptions ' +
      `-H 'content-type: application/json' -d '${JSON.stringify(subscription)}'`,
    'Waiting for messages (Ctrl+C stops).',
    '',
  ].join('\n'),
);
const stopWatching = standIns.watch((line) => process.stdout.write(`${line}\n`));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopWatching();
    void standIns.close().then(() => process.exit(0));
  });
}
