import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StandInSubscription } from '@herald/stand-ins';
import type { Channel } from '@herald/shared';
import { spawnService, type ServiceProcess } from '../helpers/service-process.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Logs never hold an email address, a phone number, an auth token or a push key: the publisher
 * and the three workers run as real processes at LOG_LEVEL=trace through deliveries, failed
 * sends, refused keys, validation errors and a Redis that refuses writes, and no secret of the
 * run appears anywhere in what they wrote.
 */
const PUBLISH_KEY = 'publish-key-f3a9c1d7e5b2';
const ADMIN_KEY = 'admin-key-8d4e2b6a0c9f';
const WRONG_KEY = 'wrong-key-5e7a1c3b9d2f';
const X_API_KEY = 'x-api-key-2c8e4a6f0b1d';
const SMTP_PASSWORD = 'smtp-password-7b3d9f1e5a';
const TOKEN_SECRET = 'user-token-secret-4f8b2d6e0a3c9e1f7b5d';
const EMAIL = 'ada.lovelace.9311@example.com';
const PHONE = '+14155550199';
const BOUNCING_EMAIL = 'bounce.4471@example.org';
const INVALID_PHONE = '+14155550142';
/** E.164 allows numbers this short; Twilio's refusal quotes it. */
const SHORT_INVALID_PHONE = '+3596071';
const OVERRIDE_EMAIL = 'override.6620@example.net';
const NOT_AN_EMAIL = 'broken.8812@@example..com';
const NOT_A_PHONE = '004915112345678';
const OOM_EMAIL = 'oom.5154@example.com';

let stack: TestStack;
let publisher: ServiceProcess;
let base: string;
let subscription: StandInSubscription;
const workers: ServiceProcess[] = [];

beforeAll(async () => {
  stack = await startStack();
  const smtp = new URL(stack.smtp.url);
  smtp.username = 'herald';
  smtp.password = SMTP_PASSWORD;
  for (const channel of ['email', 'sms', 'push'] as const) {
    workers.push(
      await stack.spawnWorker(channel, { LOG_LEVEL: 'trace', ...(channel === 'email' ? { SMTP_URL: smtp.href } : {}) }),
    );
  }
  publisher = spawnService('services/publisher/src/main.ts', {
    REDIS_URL: stack.redis.url,
    HERALD_STREAM: stack.pub.config.HERALD_STREAM,
    HERALD_KEY_PREFIX: stack.pub.config.HERALD_KEY_PREFIX,
    LOG_LEVEL: 'trace',
    PORT: '0',
    HERALD_API_KEYS: PUBLISH_KEY,
    HERALD_ADMIN_KEYS: ADMIN_KEY,
    HERALD_USER_TOKEN_SECRETS: TOKEN_SECRET,
    HERALD_ALLOW_PRIVATE_PUSH: 'true',
    VAPID_PUBLIC_KEY: stack.vapid.publicKey,
  });
  await publisher.waitForOutput('publisher listening');
  const line = publisher
    .output()
    .split('\n')
    .find((l) => l.includes('publisher listening'))!;
  base = `http://127.0.0.1:${(JSON.parse(line) as { address: { port: number } }).address.port}`;
}, 60_000);

afterAll(async () => {
  if (publisher && publisher.child.exitCode === null) {
    publisher.child.kill('SIGKILL');
    await publisher.exited;
  }
  await stack?.close();
});

/** A request to the publisher process carrying every kind of credential a client might send. */
async function request(method: string, path: string, body?: unknown, key = PUBLISH_KEY): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      'x-api-key': X_API_KEY,
      cookie: `herald_session=${X_API_KEY}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/** Wait until every channel of a notification has an outcome, and give them. */
async function outcomes(id: string): Promise<Record<Channel, string>> {
  return waitFor(
    async () => {
      const res = await request('GET', `/v1/notifications/${id}`, undefined, ADMIN_KEY);
      if (res.status !== 200) return undefined;
      const { channels } = (await res.json()) as { channels: Record<Channel, { state: string }> };
      const states = Object.fromEntries(Object.entries(channels).map(([c, s]) => [c, s.state])) as Record<
        Channel,
        string
      >;
      return Object.values(states).every((s) => !['pending', 'retrying'].includes(s)) ? states : undefined;
    },
    { what: `an outcome on every channel for ${id}` },
  );
}

describe('logs, publisher and workers at LOG_LEVEL=trace', () => {
  it('hold no email address, phone number, API key, Twilio or SMTP credential, nor push key', async () => {
    // Contact data and a push subscription, then a notification delivered on every channel.
    expect((await request('PUT', '/v1/users/ada', { email: EMAIL, phone: PHONE })).status).toBe(200);
    subscription = stack.push.createSubscription();
    expect((await request('POST', '/v1/users/ada/push-subscriptions', subscription)).status).toBe(201);
    expect(
      (
        await request('POST', '/v1/notifications', {
          id: 'delivered',
          userId: 'ada',
          type: 'welcome',
          body: `Hello ${EMAIL}`,
        })
      ).status,
    ).toBe(202);
    expect(await outcomes('delivered')).toEqual({ email: 'delivered', sms: 'delivered', push: 'delivered' });

    const override = {
      id: 'override',
      userId: 'ada',
      type: 'welcome',
      body: 'Hello',
      channels: ['email'],
      to: { email: OVERRIDE_EMAIL },
    };
    expect((await request('POST', '/v1/notifications', override)).status).toBe(202);
    expect((await outcomes('override')).email).toBe('delivered');

    // Failed sends, whose provider errors quote the recipient: SMTP 550, Twilio 21211, push 410.
    stack.smtp.failWith(550, 1);
    stack.twilio.invalidNumbers.add(INVALID_PHONE);
    stack.twilio.invalidNumbers.add(SHORT_INVALID_PHONE);
    stack.push.respondWith(410, { count: 1 });
    const failing = {
      id: 'failed',
      userId: 'ada',
      type: 'welcome',
      body: 'Hello',
      to: { email: BOUNCING_EMAIL, phone: INVALID_PHONE },
    };
    expect((await request('POST', '/v1/notifications', failing)).status).toBe(202);
    expect(await outcomes('failed')).toEqual({ email: 'dead', sms: 'dead', push: 'dead' });
    const short = {
      id: 'failed-short',
      userId: 'ada',
      type: 'welcome',
      body: 'Hello',
      channels: ['sms'],
      to: { phone: SHORT_INVALID_PHONE },
    };
    expect((await request('POST', '/v1/notifications', short)).status).toBe(202);
    expect((await outcomes('failed-short')).sms).toBe('dead');

    // A user token, used by a browser, and a dashboard session, used on an admin route.
    const tokenAnswer = await request('POST', '/v1/users/ada/tokens');
    expect(tokenAnswer.status).toBe(201);
    const { token } = (await tokenAnswer.json()) as { token: string };
    expect(
      (await request('POST', '/v1/users/ada/push-subscriptions', stack.push.createSubscription(), token)).status,
    ).toBe(201);
    const signIn = await fetch(`${base}/dashboard/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: ADMIN_KEY }),
    });
    const session = /herald_session=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')![1]!;
    expect((await fetch(`${base}/v1/groups`, { headers: { cookie: `herald_session=${session}` } })).status).toBe(200);

    // Refused requests: a wrong key, contact data that does not validate.
    expect((await request('GET', '/v1/users/ada', undefined, WRONG_KEY)).status).toBe(401);
    expect((await request('PUT', '/v1/users/bob', { email: NOT_AN_EMAIL, phone: NOT_A_PHONE })).status).toBe(400);
    const invalid = { userId: 'bob', type: 'welcome', body: 'x', to: { email: NOT_AN_EMAIL, phone: NOT_A_PHONE } };
    expect((await request('POST', '/v1/notifications', invalid)).status).toBe(400);

    // A Redis that refuses writes: the publisher logs the 5xx with the error Redis gave.
    await stack.pub.admin.config('SET', 'maxmemory', '1');
    try {
      expect((await request('PUT', '/v1/users/carol', { email: OOM_EMAIL, phone: PHONE })).status).toBe(503);
      expect(
        (await request('POST', '/v1/notifications', { ...failing, id: 'oom', to: { email: OOM_EMAIL } })).status,
      ).toBe(503);
      await publisher.waitForOutput('HERALD_ERR_UNAVAILABLE');
    } finally {
      await stack.pub.admin.config('SET', 'maxmemory', '0');
    }

    const logs = [publisher.output(), ...workers.map((w) => w.output())].join('\n');
    // The error paths were logged: otherwise an empty log would pass.
    for (const line of ['send failed', 'HERALD_ERR_UNAVAILABLE']) expect(logs).toContain(line);

    const twilioBasic = Buffer.from(`${stack.twilio.accountSid}:${stack.twilio.authToken}`).toString('base64');
    const secrets: Record<string, string> = {
      'the email address': EMAIL,
      'the bouncing email address': BOUNCING_EMAIL,
      'the override email address': OVERRIDE_EMAIL,
      'the email address Redis refused': OOM_EMAIL,
      'the invalid email address': NOT_AN_EMAIL,
      'the phone number': PHONE,
      'the phone number without +': PHONE.slice(1),
      'the invalid phone number': INVALID_PHONE,
      'the short invalid phone number': SHORT_INVALID_PHONE,
      'the malformed phone number': NOT_A_PHONE,
      'the publish key': PUBLISH_KEY,
      'the admin key': ADMIN_KEY,
      'the wrong key': WRONG_KEY,
      'the x-api-key': X_API_KEY,
      'the user token': token,
      'the user token secret': TOKEN_SECRET,
      'the dashboard session id': session,
      'the Twilio auth token': stack.twilio.authToken,
      'the Twilio basic credentials': twilioBasic,
      'the SMTP password': SMTP_PASSWORD,
      'the push p256dh key': subscription.keys.p256dh,
      'the push auth secret': subscription.keys.auth,
      'the VAPID private key': stack.vapid.privateKey,
      'the push endpoint path (its secret)': new URL(subscription.endpoint).pathname,
    };
    const found = Object.entries(secrets)
      .filter(([, secret]) => logs.includes(secret) || logs.includes(encodeURIComponent(secret)))
      .map(
        ([name, secret]) =>
          `${name}, in: ${logs
            .split('\n')
            .find((l) => l.includes(secret) || l.includes(encodeURIComponent(secret)))
            ?.slice(0, 600)}`,
      );
    expect(found, found.join('\n\n')).toEqual([]);
  });
});
