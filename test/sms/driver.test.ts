import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DeliveryError,
  connectRedis,
  createLogger,
  parseEnv,
  type ChannelDriver,
  type Notification,
} from '@herald/shared';
import { workerServices } from '../helpers/worker-services.js';
import { startTwilioStandIn, type TwilioStandIn } from '@herald/stand-ins';
import { smsEnv } from '../../services/sms/src/config.js';
import { createSmsDriver } from '../../services/sms/src/sms-driver.js';
import { freePort } from '../helpers/free-port.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { never, rejection } from '../helpers/promises.js';

let redisServer: TestRedis;
let redis: Redis;
let twilioApi: TwilioStandIn;
const drivers: ChannelDriver[] = [];
let unique = 0;

beforeAll(async () => {
  [redisServer, twilioApi] = await Promise.all([startRedis(), startTwilioStandIn()]);
  redis = connectRedis(redisServer.url, { name: 'test-sms', logger: createLogger('test', 'silent') });
});

afterEach(async () => {
  twilioApi.reset();
  await Promise.all(drivers.splice(0).map((d) => d.close?.()));
});

afterAll(async () => {
  redis?.disconnect();
  await Promise.all([twilioApi?.close(), redisServer?.destroy()]);
});

function smsConfig(env: Record<string, string> = {}) {
  unique += 1;
  return parseEnv(smsEnv, {
    REDIS_URL: redisServer.url,
    LOG_LEVEL: 'silent',
    HERALD_STREAM: `test:sms:${process.pid}:${unique}`,
    TWILIO_ACCOUNT_SID: twilioApi.accountSid,
    TWILIO_AUTH_TOKEN: twilioApi.authToken,
    TWILIO_FROM: '+14155550100',
    TWILIO_BASE_URL: twilioApi.baseUrl,
    ...env,
  });
}

function driverFor(config: ReturnType<typeof smsConfig>): ChannelDriver {
  const driver = createSmsDriver(config, workerServices(redis, config));
  drivers.push(driver);
  return driver;
}

function notification(id: string, payload: Partial<Notification['payload']> = {}): Notification {
  return { v: 1, id, userId: 'u1', type: 'otp', payload: { body: 'Your code is 123456', ...payload }, ts: Date.now() };
}

const target = { key: 'sms', address: '+14155550123' };

describe('SMS driver against a Twilio-compatible API', () => {
  it('sends To, From and Body through TWILIO_BASE_URL and reports the message SID', async () => {
    const driver = driverFor(smsConfig());
    const result = await driver.send(notification('s1', { title: 'Sign-in' }), target, never());
    const [sms] = await twilioApi.waitForMessages(1);
    expect(sms).toMatchObject({ to: '+14155550123', from: '+14155550100', body: 'Sign-in\nYour code is 123456' });
    expect(result.providerId).toBe(sms!.sid);
    expect(result.providerId).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it('sends from the Messaging Service when one is configured', async () => {
    const driver = driverFor(
      smsConfig({ TWILIO_FROM: '', TWILIO_MESSAGING_SERVICE_SID: 'MG0123456789abcdef0123456789abcdef' }),
    );
    await driver.send(notification('s2'), target, never());
    const [sms] = await twilioApi.waitForMessages(1);
    expect(sms!.messagingServiceSid).toBe('MG0123456789abcdef0123456789abcdef');
    expect(sms!.from).toBeUndefined();
  });

  it('classifies 21211 (invalid To number) as permanent', async () => {
    const driver = driverFor(smsConfig());
    twilioApi.invalidNumbers.add('+14155550123');
    const err = driver.classify(await rejection(driver.send(notification('s3'), target, never())));
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.kind).toBe('permanent');
    expect(err.message).toContain('21211');
  });

  it('classifies a 429 as transient with the Retry-After it carried', async () => {
    const driver = driverFor(smsConfig());
    twilioApi.respondWith(429, { count: 1, retryAfterS: 7 });
    const err = driver.classify(await rejection(driver.send(notification('s4'), target, never())));
    expect(err.kind).toBe('transient');
    expect(err.retryAfterMs).toBe(7000);
    // The SDK's own retry is off: one request, and the runtime decides when to come back.
    expect(twilioApi.requests).toBe(1);
  });

  it('classifies a 5xx, refused credentials and a refused connection as transient', async () => {
    const driver = driverFor(smsConfig());
    twilioApi.respondWith(503, { count: 1 });
    expect(driver.classify(await rejection(driver.send(notification('s5'), target, never()))).kind).toBe('transient');

    const wrongToken = driverFor(smsConfig({ TWILIO_AUTH_TOKEN: 'not-the-token' }));
    expect(wrongToken.classify(await rejection(wrongToken.send(notification('s6'), target, never()))).kind).toBe(
      'transient',
    );

    const nowhere = driverFor(smsConfig({ TWILIO_BASE_URL: `http://127.0.0.1:${await freePort()}` }));
    const err = nowhere.classify(await rejection(nowhere.send(notification('s7'), target, never())));
    expect(err.kind).toBe('transient');
    expect(err.message).toContain('ECONNREFUSED');
    expect(twilioApi.messages).toHaveLength(0);
  });

  it('shares HERALD_RATE_PER_S across replicas: 6 sends at 2 per second take more than a second', async () => {
    const config = smsConfig({ HERALD_RATE_PER_S: '2' });
    // Two drivers on one budget, as two replicas of the worker would be.
    const replicas = [driverFor(config), driverFor(config)];
    const started = Date.now();
    // The runtime waits for the budget (throttle) before it claims and sends.
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const replica = replicas[i % 2]!;
        await replica.throttle!(never());
        await replica.send(notification(`r${i}`), target, never());
      }),
    );
    const elapsed = Date.now() - started;
    const arrived = await twilioApi.waitForMessages(6);
    expect(arrived).toHaveLength(6);
    // 2 per second means 3 different seconds (by Redis's clock, on this host): the last send
    // cannot begin before the second after next from the first one's, wherever in its second
    // the test started. (Over 2 s is only certain from 7 sends on.)
    expect(elapsed).toBeGreaterThan(1000);
    expect(await redis.exists(`herald:{${config.HERALD_STREAM}}:rate:sms`)).toBe(1);
  });

  it('gives up waiting for the rate budget when the signal aborts (shutdown)', async () => {
    const driver = driverFor(smsConfig({ HERALD_RATE_PER_S: '1' }));
    await driver.throttle!(never());
    await driver.send(notification('w1'), target, never());
    // Stopping: a wait for the budget gives up, whether the budget is spent or not.
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    const err = await rejection(driver.throttle!(controller.signal));
    expect(driver.classify(err).kind).toBe('transient');
    expect(twilioApi.messages).toHaveLength(1);
  });
});
