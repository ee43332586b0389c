import type { LookupAddress, lookup } from 'node:dns';
import { request } from 'node:https';
import type { Redis } from 'ioredis';
import webpush from 'web-push';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DeliveryError,
  connectRedis,
  createLogger,
  parseEnv,
  type ChannelDriver,
  type Notification,
  type Target,
} from '@herald/shared';
import { workerServices } from '../helpers/worker-services.js';
import { startPushStandIn, type PushStandIn, type StandInSubscription } from '@herald/stand-ins';
import { classifyPushError } from '../../services/push/src/classify-push-error.js';
import { pushEnv } from '../../services/push/src/config.js';
import { createPushAgent } from '../../services/push/src/push-agent.js';
import { createPushDriver, type PushDriverOptions } from '../../services/push/src/push-driver.js';
import { pushTopic } from '../../services/push/src/render-push.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { never, rejection } from '../helpers/promises.js';

const vapid = webpush.generateVAPIDKeys();
let redisServer: TestRedis;
let redis: Redis;
let pushService: PushStandIn;
const drivers: ChannelDriver[] = [];

beforeAll(async () => {
  [redisServer, pushService] = await Promise.all([startRedis(), startPushStandIn({ vapidPublicKey: vapid.publicKey })]);
  redis = connectRedis(redisServer.url, { name: 'test-push', logger: createLogger('test', 'silent') });
});

afterEach(async () => {
  pushService.reset();
  await Promise.all(drivers.splice(0).map((d) => d.close?.()));
});

afterAll(async () => {
  redis?.disconnect();
  await Promise.all([pushService?.close(), redisServer?.destroy()]);
});

/**
 * A driver trusting the stand-in's certificate. A worker process would get that trust from
 * NODE_EXTRA_CA_CERTS, which Node only reads at start; in process the factory takes `ca`.
 */
function driverFor(
  env: Record<string, string> = {},
  keys = vapid,
  options: PushDriverOptions = { ca: pushService.caCertPem },
): ChannelDriver {
  const config = parseEnv(pushEnv, {
    REDIS_URL: redisServer.url,
    LOG_LEVEL: 'silent',
    VAPID_PUBLIC_KEY: keys.publicKey,
    VAPID_PRIVATE_KEY: keys.privateKey,
    VAPID_SUBJECT: 'mailto:ops@herald.example',
    HERALD_ALLOW_PRIVATE_PUSH: 'true',
    ...env,
  });
  const driver = createPushDriver(config, workerServices(redis, config), options);
  drivers.push(driver);
  return driver;
}

function notification(id: string, overrides: Partial<Notification> = {}): Notification {
  return {
    v: 1,
    id,
    userId: 'u1',
    type: 'chat.message',
    payload: { title: 'Ada', body: 'Are you coming?', url: 'https://chat.example/c/1', data: { thread: 7 } },
    ts: Date.now(),
    ...overrides,
  };
}

function targetOf(driver: ChannelDriver, subscription: StandInSubscription): Target {
  const [target] = driver.targets(notification('any'), {
    pushSubscriptions: [{ ...subscription, createdAt: Date.now() }],
  });
  return target!;
}

/** A dns.lookup that answers every name with `addresses`. */
function resolvingTo(addresses: LookupAddress[]): typeof lookup {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  }) as typeof lookup;
}

describe('push driver against a Web Push service', () => {
  it('delivers an encrypted payload that decrypts, with TTL, topic and VAPID', async () => {
    const driver = driverFor({ HERALD_PUSH_TTL_S: '3600' });
    const n = notification('01JPUSH0000000000000000001');
    const result = await driver.send(n, targetOf(driver, pushService.createSubscription()), never());
    const [push] = await pushService.waitForPushes(1);
    expect(push!.json).toEqual({
      id: n.id,
      type: 'chat.message',
      title: 'Ada',
      body: 'Are you coming?',
      url: 'https://chat.example/c/1',
      data: { thread: 7 },
    });
    expect(push!.ttl).toBe(3600);
    expect(push!.topic).toBe(pushTopic(n.id));
    expect(push!.vapidPublicKey).toBe(vapid.publicKey);
    expect(result.providerId).toMatch(new RegExp(`^${pushService.origin}/message/`));
  });

  it('sets TTL to the time left until expiresAt', async () => {
    const driver = driverFor();
    const expiresAt = Date.now() + 90_000;
    const before = Date.now();
    await driver.send(
      notification('p-ttl', { expiresAt }),
      targetOf(driver, pushService.createSubscription()),
      never(),
    );
    const after = Date.now();
    const [push] = await pushService.waitForPushes(1);
    expect(push!.ttl).toBeLessThanOrEqual(Math.ceil((expiresAt - before) / 1000));
    expect(push!.ttl).toBeGreaterThanOrEqual(Math.ceil((expiresAt - after) / 1000));
  });

  it('classifies 410 and 404 as gone', async () => {
    const driver = driverFor();
    const subscription = pushService.createSubscription();
    pushService.removeSubscription(subscription.endpoint);
    expect(
      driver.classify(await rejection(driver.send(notification('p-410'), targetOf(driver, subscription), never())))
        .kind,
    ).toBe('gone');

    const other = pushService.createSubscription();
    pushService.respondWith(404, { endpoint: other.endpoint, count: 1 });
    expect(
      driver.classify(await rejection(driver.send(notification('p-404'), targetOf(driver, other), never()))).kind,
    ).toBe('gone');
  });

  it('classifies 500 as transient and 429 as transient with its Retry-After', async () => {
    const driver = driverFor();
    const target = targetOf(driver, pushService.createSubscription());
    pushService.respondWith(500, { count: 1 });
    expect(driver.classify(await rejection(driver.send(notification('p-500'), target, never()))).kind).toBe(
      'transient',
    );
    pushService.respondWith(429, { count: 1, retryAfterS: 30 });
    const limited = driver.classify(await rejection(driver.send(notification('p-429'), target, never())));
    expect(limited.kind).toBe('transient');
    expect(limited.retryAfterMs).toBe(30_000);
    await driver.send(notification('p-ok'), target, never());
    expect(await pushService.waitForPushes(1)).toHaveLength(1);
  });

  it('classifies a push signed with another VAPID key (403) as permanent', async () => {
    const driver = driverFor({}, webpush.generateVAPIDKeys());
    const err = driver.classify(
      await rejection(driver.send(notification('p-403'), targetOf(driver, pushService.createSubscription()), never())),
    );
    expect(err.kind).toBe('permanent');
    expect(err.message).toContain('403');
  });

  it('refuses a private endpoint unless HERALD_ALLOW_PRIVATE_PUSH, without naming its secret path', async () => {
    const driver = driverFor({ HERALD_ALLOW_PRIVATE_PUSH: 'false' });
    const subscription = pushService.createSubscription();
    const err = driver.classify(
      await rejection(driver.send(notification('p-private'), targetOf(driver, subscription), never())),
    );
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.kind).toBe('permanent');
    expect(err.message).toContain(pushService.origin);
    expect(err.message).not.toContain('/push/');

    const byName = { ...subscription, endpoint: subscription.endpoint.replace('127.0.0.1', 'localhost') };
    const named = driver.classify(
      await rejection(driver.send(notification('p-localhost'), targetOf(driver, byName), never())),
    );
    expect(named.kind).toBe('permanent');
    expect(pushService.received).toHaveLength(0);
  });

  it.each<[string, LookupAddress[]]>([
    ['a loopback address', [{ address: '127.0.0.1', family: 4 }]],
    [
      'a public and a private address (the private one could be the one connected to)',
      [
        { address: '203.0.113.7', family: 4 },
        { address: '10.1.2.3', family: 4 },
      ],
    ],
    ['an IPv4-mapped IPv6 loopback address', [{ address: '::ffff:127.0.0.1', family: 6 }]],
    ['an IPv6 link-local address', [{ address: 'fe80::1', family: 6 }]],
    ['the cloud metadata address', [{ address: '169.254.169.254', family: 4 }]],
  ])('refuses at send time an endpoint whose name resolves to %s, and sends nothing', async (_name, addresses) => {
    // A name the publisher accepted (it is not private by its name alone), resolved only when
    // sending, through a resolver the test controls: no outside DNS is reachable here.
    const named = await startPushStandIn({ vapidPublicKey: vapid.publicKey, publicHost: 'push.herald.test' });
    try {
      const subscription = named.createSubscription();
      expect(new URL(subscription.endpoint).hostname).toBe('push.herald.test');
      const driver = driverFor({ HERALD_ALLOW_PRIVATE_PUSH: 'false' }, vapid, {
        ca: named.caCertPem,
        lookup: resolvingTo(addresses),
      });
      const err = driver.classify(
        await rejection(driver.send(notification('p-rebind'), targetOf(driver, subscription), never())),
      );
      expect(err).toBeInstanceOf(DeliveryError);
      expect(err.kind).toBe('permanent');
      expect(err.message).toMatch(/push\.herald\.test resolves to a private address; refused/);
      // Neither the subscription's secret path nor the private address it resolved to.
      expect(err.message).not.toContain('/push/');
      for (const { address } of addresses) expect(err.message).not.toContain(address);
      expect(named.received).toHaveLength(0);

      // The same name, resolved the same way, with private addresses allowed reaches the service
      // when it is the one resolved to: the refusal above was the address check and nothing else.
      if (addresses.length === 1 && addresses[0]!.address === '127.0.0.1') {
        const allowed = driverFor({ HERALD_ALLOW_PRIVATE_PUSH: 'true' }, vapid, {
          ca: named.caCertPem,
          lookup: resolvingTo(addresses),
        });
        await allowed.send(notification('p-allowed'), targetOf(allowed, subscription), never());
        expect(named.received).toHaveLength(1);
      }
    } finally {
      await named.close();
    }
  });

  it('checks the addresses a name resolves to when connecting', async () => {
    // A name (not an IP literal) goes through the agent's lookup, which sees 127.0.0.1.
    const agent = createPushAgent({ allowPrivate: false, ca: pushService.caCertPem });
    try {
      const err = await new Promise<unknown>((resolve) => {
        const req = request(`https://localhost:${pushService.port}/push/x`, { method: 'POST', agent }, (res) => {
          res.resume();
          resolve(new Error(`unexpectedly answered ${res.statusCode}`));
        });
        req.once('error', resolve);
        req.end();
      });
      expect(err).toBeInstanceOf(DeliveryError);
      expect(classifyPushError(err).kind).toBe('permanent');
      expect((err as Error).message).toBe(
        'push endpoint host localhost resolves to a private address; refused (HERALD_ALLOW_PRIVATE_PUSH is off)',
      );
    } finally {
      agent.destroy();
    }
  });
});
