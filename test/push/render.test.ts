import webpush from 'web-push';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DeliveryError,
  parseEnv,
  redactContactData,
  type Notification,
  type UserRecord,
} from '@herald/shared';
import { classifyPushError } from '../../services/push/src/classify-push-error.js';
import { pushEnv } from '../../services/push/src/config.js';
import { createPushDriver } from '../../services/push/src/push-driver.js';
import { pushTargetKey } from '../../services/push/src/push-target-key.js';
import { PUSH_PAYLOAD_MAX_BYTES, pushTopic, renderPush } from '../../services/push/src/render-push.js';

function notification(
  payload: Partial<Notification['payload']> = {},
  overrides: Partial<Notification> = {},
): Notification {
  return {
    v: 1,
    id: '01JABCDEF0123456789XYZABCD',
    userId: 'u1',
    type: 'chat.message',
    payload: { body: 'Hello', ...payload },
    ts: 1,
    ...overrides,
  };
}
const now = Date.parse('2026-11-26T12:00:00Z');
const render = (n: Notification) => renderPush(n, { now, defaultTtlS: 86400 });

describe('renderPush', () => {
  it('carries id, type, title, body, url and data as JSON', () => {
    const n = notification({ title: 'Ada', url: 'https://chat.example/c/1', data: { thread: 7 } });
    expect(JSON.parse(render(n).payload)).toEqual({
      id: n.id,
      type: 'chat.message',
      title: 'Ada',
      body: 'Hello',
      url: 'https://chat.example/c/1',
      data: { thread: 7 },
    });
  });

  it('shortens a huge body with an ellipsis to stay within 3 KB, keeping the JSON whole', () => {
    const n = notification({ title: 'T', url: 'https://chat.example/c/1', data: { k: 'v' }, body: 'é'.repeat(4000) });
    const { payload } = render(n);
    expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(PUSH_PAYLOAD_MAX_BYTES);
    expect(Buffer.byteLength(payload)).toBeGreaterThan(PUSH_PAYLOAD_MAX_BYTES - 8);
    const parsed = JSON.parse(payload) as { body: string; title: string; url: string; data: unknown };
    expect(parsed.body).toMatch(/^é+…$/);
    expect(parsed).toMatchObject({ title: 'T', url: 'https://chat.example/c/1', data: { k: 'v' } });
  });

  it('stays within 3 KB even when the url, title and data alone are too big', () => {
    const n = notification(
      {
        title: '😀'.repeat(200),
        url: `https://chat.example/${'p'.repeat(2000)}`,
        data: { blob: 'd'.repeat(1000) },
        body: '"\\'.repeat(2000),
      },
      { id: 'i'.repeat(128), type: 't'.repeat(128) },
    );
    const { payload } = render(n);
    expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(PUSH_PAYLOAD_MAX_BYTES);
    const parsed = JSON.parse(payload) as { id: string; type: string; body: string };
    expect(parsed.id).toBe(n.id);
    expect(parsed.type).toBe(n.type);
    expect(parsed.body.endsWith('…')).toBe(true);
  });

  it('sets TTL to the seconds left until expiresAt, rounded up, at least 0', () => {
    expect(render(notification()).TTL).toBe(86400);
    expect(render(notification({}, { expiresAt: now + 90_500 })).TTL).toBe(91);
    expect(render(notification({}, { expiresAt: now + 60_000 })).TTL).toBe(60);
    expect(render(notification({}, { expiresAt: now - 5000 })).TTL).toBe(0);
  });

  it('derives a topic of at most 32 base64url characters from the id', () => {
    const topic = render(notification()).topic;
    expect(topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    expect(topic).toHaveLength(32);
    expect(pushTopic('01JABCDEF0123456789XYZABCD')).toBe(topic);
    expect(pushTopic('another')).not.toBe(topic);
  });
});

describe('push targets', () => {
  it('gives every subscription its own key from its endpoint', () => {
    const driver = createPushDriver(parseEnv(pushEnv, { HERALD_DRY_RUN: 'true' }), {} as never);
    // The runtime reads a user's subscriptions only for a driver that asks for them.
    expect(driver.userLookup).toBeDefined();
    const sub = (endpoint: string) => ({ endpoint, keys: { p256dh: 'p', auth: 'a' }, createdAt: 1 });
    const subs = [sub('https://push.example/a'), sub('https://push.example/b')];
    const targets = driver.targets(notification(), { pushSubscriptions: subs });
    expect(targets).toEqual([
      { key: pushTargetKey('https://push.example/a'), address: 'https://push.example/a', subscription: subs[0] },
      { key: pushTargetKey('https://push.example/b'), address: 'https://push.example/b', subscription: subs[1] },
    ]);
    expect(targets[0]!.key).toMatch(/^push:[A-Za-z0-9_-]{16}$/);
    expect(targets[0]!.key).not.toBe(targets[1]!.key);
    expect(driver.targets(notification(), { pushSubscriptions: [] })).toEqual([]);
  });

  it('reads the stored subscriptions with the user, passing over what does not parse', () => {
    const driver = createPushDriver(parseEnv(pushEnv, { HERALD_DRY_RUN: 'true' }), {} as never);
    const sub = { endpoint: 'https://push.example/a', keys: { p256dh: 'p', auth: 'a' }, createdAt: 1 };
    const user: UserRecord = {};
    driver.userLookup!.apply(user, {
      [sub.endpoint]: JSON.stringify(sub),
      'https://push.example/b': '{not json',
      'https://push.example/c': '{}',
    });
    expect(user.pushSubscriptions).toEqual([sub]);
    driver.userLookup!.apply(user, {});
    expect(user.pushSubscriptions).toEqual([]);
  });
});

describe('push configuration', () => {
  it('names each missing variable unless it is a dry run', () => {
    let error: unknown;
    try {
      createPushDriver(parseEnv(pushEnv, {}), {} as never);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).lines).toEqual([
      'VAPID_PUBLIC_KEY: required, a base64url P-256 public key',
      'VAPID_PRIVATE_KEY: required, a base64url P-256 private key',
      'VAPID_SUBJECT: required, a mailto: or https: URL',
    ]);
  });

  it('refuses a private key that does not belong to the public key', () => {
    const a = webpush.generateVAPIDKeys();
    const b = webpush.generateVAPIDKeys();
    const env = {
      VAPID_PUBLIC_KEY: a.publicKey,
      VAPID_PRIVATE_KEY: b.privateKey,
      VAPID_SUBJECT: 'mailto:ops@example.com',
    };
    expect(() => createPushDriver(parseEnv(pushEnv, env), {} as never)).toThrow(
      'VAPID_PRIVATE_KEY: does not belong to VAPID_PUBLIC_KEY',
    );
    const ok = { ...env, VAPID_PRIVATE_KEY: a.privateKey };
    expect(createPushDriver(parseEnv(pushEnv, ok), {} as never).channel).toBe('push');
  });

  it('refuses malformed values, naming them', () => {
    expect(() =>
      parseEnv(pushEnv, { VAPID_PRIVATE_KEY: 'abc', VAPID_SUBJECT: 'http://example.com', HERALD_PUSH_TTL_S: '-1' }),
    ).toThrow(
      [
        'VAPID_PRIVATE_KEY: expected a base64url P-256 private key (32 bytes decoded)',
        'VAPID_SUBJECT: expected a mailto: or https: URL',
        'HERALD_PUSH_TTL_S: expected a whole number from 0 to 2419200',
      ].join('\n'),
    );
  });
});

describe('classifyPushError', () => {
  const answer = (status: number, headers: Record<string, string> = {}) =>
    new webpush.WebPushError('Received unexpected response code', status, headers, '', 'https://push.example/x');

  it('counts 404 and 410 as gone', () => {
    expect(classifyPushError(answer(404)).kind).toBe('gone');
    expect(classifyPushError(answer(410)).kind).toBe('gone');
  });

  it('counts 429 (with Retry-After) and 5xx as transient', () => {
    const limited = classifyPushError(answer(429, { 'retry-after': '30' }));
    expect(limited.kind).toBe('transient');
    expect(limited.retryAfterMs).toBe(30_000);
    expect(classifyPushError(answer(500)).kind).toBe('transient');
    expect(classifyPushError(answer(503)).kind).toBe('transient');
  });

  it('counts other 4xx as permanent', () => {
    for (const status of [400, 401, 403, 413]) expect(classifyPushError(answer(status)).kind).toBe('permanent');
  });

  it('keeps enough of the answer that an endpoint it quotes is masked whole', () => {
    // The runtime masks the recipient in the message, then cuts it: a cut here first would leave
    // a piece of the endpoint (its path is the subscription's secret) that no longer matches it.
    const endpoint = `https://push.example.net/send/${'secret-part-'.repeat(30)}end`;
    const body = JSON.stringify({ error: { reason: 'subscription expired or was unsubscribed', endpoint } });
    const err = new webpush.WebPushError('Received unexpected response code', 410, {}, body, endpoint);
    const stored = redactContactData(classifyPushError(err).message, [endpoint]);
    expect(stored).toContain('[recipient]');
    expect(stored).not.toContain('secret-part');
  });

  it('counts network errors as transient and passes a DeliveryError through', () => {
    expect(classifyPushError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).kind).toBe('transient');
    expect(classifyPushError(new Error('Socket timeout')).kind).toBe('transient');
    const err = new DeliveryError('permanent', 'private');
    expect(classifyPushError(err)).toBe(err);
  });
});
