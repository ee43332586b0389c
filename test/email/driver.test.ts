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
import { startSmtpStandIn, type SmtpStandIn } from '@herald/stand-ins';
import { emailEnv } from '../../services/email/src/config.js';
import { createEmailDriver } from '../../services/email/src/email-driver.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { never, rejection } from '../helpers/promises.js';

let redisServer: TestRedis;
let redis: Redis;
let smtp: SmtpStandIn;
const drivers: ChannelDriver[] = [];

beforeAll(async () => {
  [redisServer, smtp] = await Promise.all([startRedis(), startSmtpStandIn()]);
  redis = connectRedis(redisServer.url, { name: 'test-email', logger: createLogger('test', 'silent') });
});

afterEach(async () => {
  smtp.reset();
  await Promise.all(drivers.splice(0).map((d) => d.close?.()));
});

afterAll(async () => {
  redis?.disconnect();
  await Promise.all([smtp?.close(), redisServer?.destroy()]);
});

function driverFor(smtpUrl: string, env: Record<string, string> = {}): ChannelDriver {
  const config = parseEnv(emailEnv, {
    REDIS_URL: redisServer.url,
    LOG_LEVEL: 'silent',
    SMTP_URL: smtpUrl,
    EMAIL_FROM: 'Herald <alerts@herald.example>',
    ...env,
  });
  const driver = createEmailDriver(config, workerServices(redis, config));
  drivers.push(driver);
  return driver;
}

function notification(id: string, payload: Partial<Notification['payload']> = {}): Notification {
  return {
    v: 1,
    id,
    userId: 'u1',
    type: 'order.shipped',
    payload: { body: 'Your order is on its way.', ...payload },
    ts: Date.now(),
  };
}

const target = { key: 'email', address: 'ada@example.org' };

describe('email driver against a real SMTP server', () => {
  it('delivers the mail with its recipient, subject, text and Message-ID', async () => {
    const driver = driverFor(`${smtp.url}?ignoreTLS=true`);
    const n = notification('01JEMAIL000000000000000001', { title: 'Shipped', url: 'https://shop.example/orders/42' });
    const result = await driver.send(n, target, never());
    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.to).toEqual(['ada@example.org']);
    expect(mail!.from).toBe('alerts@herald.example');
    expect(mail!.headers.from).toBe('Herald <alerts@herald.example>');
    expect(mail!.subject).toBe('Shipped');
    expect(mail!.text.trimEnd()).toBe('Your order is on its way.\n\nhttps://shop.example/orders/42');
    expect(mail!.messageId).toBe('<01JEMAIL000000000000000001@herald.example>');
    expect(result.providerId).toBe(mail!.messageId);
    expect(mail!.headers['x-herald-notification-id']).toBe('01JEMAIL000000000000000001');
  });

  it('sends a retry with the same Message-ID', async () => {
    const driver = driverFor(`${smtp.url}?ignoreTLS=true`);
    const n = notification('01JEMAIL000000000000000002');
    await driver.send(n, target, never());
    await driver.send(n, target, never());
    const [first, second] = await smtp.waitForMessages(2);
    expect(first!.subject).toBe('order.shipped');
    expect(second!.messageId).toBe(first!.messageId);
  });

  it('classifies a 5xx rejection as permanent', async () => {
    const driver = driverFor(`${smtp.url}?ignoreTLS=true`);
    smtp.failWith(550, 1);
    const err = driver.classify(await rejection(driver.send(notification('n-550'), target, never())));
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.kind).toBe('permanent');
    expect(err.message).toContain('550');
  });

  it('classifies a 4xx deferral as transient, and the next try goes through', async () => {
    const driver = driverFor(`${smtp.url}?ignoreTLS=true`);
    smtp.failWith(451, 1);
    const err = driver.classify(await rejection(driver.send(notification('n-451'), target, never())));
    expect(err.kind).toBe('transient');
    expect(err.message).toContain('451');
    await driver.send(notification('n-451'), target, never());
    expect(await smtp.waitForMessages(1)).toHaveLength(1);
  });

  it('classifies a refused connection as transient', async () => {
    const closed = await startSmtpStandIn();
    const url = `${closed.url}?ignoreTLS=true`;
    await closed.close();
    const driver = driverFor(url);
    const err = driver.classify(await rejection(driver.send(notification('n-refused'), target, never())));
    expect(err.kind).toBe('transient');
  });
});
