import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEntry, type Channel, type NotificationStatusView } from '@herald/shared';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack();
  await Promise.all([
    stack.spawnWorker('email', { HERALD_MAX_ATTEMPTS: '4' }),
    stack.spawnWorker('sms', { HERALD_MAX_ATTEMPTS: '4' }),
    stack.spawnWorker('push', { HERALD_MAX_ATTEMPTS: '4' }),
  ]);
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

let counter = 0;
async function setUp(data: Record<string, unknown>, subscriptions = 0) {
  const userId = `fail-user-${++counter}`;
  await stack.pub.app.inject({ method: 'PUT', url: `/v1/users/${userId}`, payload: data });
  const subs = [];
  for (let i = 0; i < subscriptions; i++) {
    const sub = stack.push.createSubscription();
    await stack.pub.app.inject({ method: 'POST', url: `/v1/users/${userId}/push-subscriptions`, payload: sub });
    subs.push(sub);
  }
  return { userId, subs };
}

async function publish(body: Record<string, unknown>): Promise<string> {
  const res = await stack.pub.app.inject({ method: 'POST', url: '/v1/notifications', payload: body });
  expect(res.statusCode, res.body).toBe(202);
  return res.json().id;
}

async function settledOn(id: string, channel: Channel): Promise<NotificationStatusView['channels'][Channel]> {
  return waitFor(
    async () => {
      const s = (
        await stack.pub.app.inject({ method: 'GET', url: `/v1/notifications/${id}` })
      ).json<NotificationStatusView>();
      const c = s.channels?.[channel];
      return c && !['pending', 'retrying'].includes(c.state) ? c : undefined;
    },
    { what: `${id} to settle on ${channel}` },
  );
}

async function deadLetters(): Promise<Record<string, string>[]> {
  const entries = await stack.pub.admin.xrange(stack.pub.keys.deadLetters, '-', '+');
  return entries.map(([, fields]) => {
    const record: Record<string, string> = {};
    // The dead letter's own fields come first; the original entry's follow.
    for (let i = 0; i < 12; i += 2) record[fields[i]!] = fields[i + 1]!;
    return record;
  });
}

describe('failures', () => {
  it('retries transient failures on every channel and delivers, counting attempts', async () => {
    const { userId, subs } = await setUp({ email: 'retry@example.com', phone: '+14155550111' }, 1);
    stack.smtp.failWith(451, 2);
    stack.twilio.respondWith(500, { count: 1 });
    stack.twilio.respondWith(429, { count: 1, retryAfterS: 1 });
    stack.push.respondWith(503, { count: 2, endpoint: subs[0]!.endpoint });
    const id = await publish({ userId, type: 'otp', body: 'Code 1111' });

    const email = await settledOn(id, 'email');
    expect(email).toMatchObject({ state: 'delivered', attempts: 3 });
    const sms = await settledOn(id, 'sms');
    expect(sms.state).toBe('delivered');
    expect(sms.attempts).toBeGreaterThanOrEqual(2);
    const push = await settledOn(id, 'push');
    expect(push).toMatchObject({ state: 'delivered', attempts: 3 });
    expect(stack.smtp.messages.filter((m) => m.to.includes('retry@example.com'))).toHaveLength(1);
    expect(stack.push.received.filter((p) => p.endpoint === subs[0]!.endpoint)).toHaveLength(1);
    stack.twilio.reset();
  });

  it('honours Retry-After from a Twilio 429', async () => {
    const { userId } = await setUp({ phone: '+14155550112' });
    stack.twilio.respondWith(429, { count: 1, retryAfterS: 2 });
    const started = Date.now();
    const id = await publish({ userId, type: 'otp', body: 'Code 2222', channels: ['sms'] });
    await settledOn(id, 'sms');
    const sms = stack.twilio.messages.find((m) => m.to === '+14155550112')!;
    // The second try came no sooner than Twilio asked, although the backoff would allow 100 ms.
    expect(sms.receivedAt - started).toBeGreaterThanOrEqual(2000);
  });

  it('dead-letters a permanent failure once, with the reason, and stops trying', async () => {
    const { userId } = await setUp({ email: 'bounce@example.com', phone: '+14155550113' });
    stack.smtp.failWith(550, 1);
    stack.twilio.invalidNumbers.add('+14155550113');
    const id = await publish({ userId, type: 'otp', body: 'Code 3333', channels: ['email', 'sms'] });
    expect(await settledOn(id, 'email')).toMatchObject({ state: 'dead', reason: 'permanent', attempts: 1 });
    expect(await settledOn(id, 'sms')).toMatchObject({ state: 'dead', reason: 'permanent', attempts: 1 });
    const letters = (await deadLetters()).filter((l) => l.id === id);
    expect(letters.map((l) => [l.channel, l.reason, l.attempts]).sort()).toEqual([
      ['email', 'permanent', '1'],
      ['sms', 'permanent', '1'],
    ]);
    // No error in a status or dead letter names the recipient.
    expect(JSON.stringify(letters)).not.toContain('bounce@example.com');
    expect(JSON.stringify(letters)).not.toContain('+14155550113');
    // Nothing is left pending, so nothing will be tried again.
    await waitFor(
      async () =>
        ((await stack.pub.admin.xpending(stack.pub.keys.stream, 'email_notifier_group')) as [number])[0] === 0,
    );
    expect((await deadLetters()).filter((l) => l.id === id)).toHaveLength(2);
  });

  it('dead-letters after HERALD_MAX_ATTEMPTS transient failures', async () => {
    const { userId } = await setUp({ email: 'always-busy@example.com' });
    stack.smtp.failWith(421);
    try {
      const id = await publish({ userId, type: 'otp', body: 'Code 4444', channels: ['email'] });
      expect(await settledOn(id, 'email')).toMatchObject({ state: 'dead', reason: 'max_attempts', attempts: 4 });
      expect((await deadLetters()).filter((l) => l.id === id)).toEqual([
        expect.objectContaining({ reason: 'max_attempts', attempts: '4' }),
      ]);
    } finally {
      stack.smtp.reset();
    }
  });

  it('removes a push subscription that answers 410, and still delivers to the others', async () => {
    const { userId, subs } = await setUp({}, 2);
    stack.push.removeSubscription(subs[0]!.endpoint);
    const id = await publish({ userId, type: 'otp', body: 'Code 5555' });
    expect(await settledOn(id, 'push')).toMatchObject({ state: 'delivered' });
    expect(stack.push.received.some((p) => p.endpoint === subs[1]!.endpoint)).toBe(true);
    const user = (await stack.pub.app.inject({ method: 'GET', url: `/v1/users/${userId}` })).json();
    expect(user.pushSubscriptions.map((s: { endpoint: string }) => s.endpoint)).toEqual([subs[1]!.endpoint]);
  });

  it('dead-letters a malformed entry on every channel and keeps going', async () => {
    const bad = await stack.pub.admin.xadd(
      stack.pub.keys.stream,
      '*',
      'v',
      '1',
      'id',
      'bad-1',
      'userId',
      'u',
      'type',
      'otp',
      'payload',
      '{not json',
      'ts',
      '1',
    );
    await stack.pub.admin.xadd(stack.pub.keys.stream, '*', 'garbage', '\u0000\u00ff');
    const { userId } = await setUp({ email: 'after-bad@example.com' });
    const id = await publish({ userId, type: 'otp', body: 'Still working', channels: ['email'] });
    expect(await settledOn(id, 'email')).toMatchObject({ state: 'delivered' });
    const letters = await waitFor(async () => {
      const found = (await deadLetters()).filter((l) => l.reason === 'malformed');
      return found.length >= 6 ? found : undefined;
    });
    expect(
      letters
        .filter((l) => l.streamId === bad)
        .map((l) => l.channel)
        .sort(),
    ).toEqual(['email', 'push', 'sms']);
    expect(letters.find((l) => l.streamId === bad)!.error).toContain('payload');
    const s = (await stack.pub.app.inject({ method: 'GET', url: '/v1/notifications/bad-1' })).json();
    expect(s.channels.email).toMatchObject({ state: 'dead', reason: 'malformed' });
  });

  it('never sends a notification past its expiresAt, even on a retry', async () => {
    const { userId } = await setUp({ email: 'otp-late@example.com' });
    // The mail server refuses until the code has expired (the 4th and last attempt comes at
    // 525 ms at the earliest: 75 + 150 + 300 ms of backoff); then it would accept.
    stack.smtp.failWith(451);
    try {
      const n = {
        v: 1 as const,
        id: 'late-otp',
        userId,
        type: 'otp',
        payload: { body: 'Code 6666' },
        channels: ['email' as const],
        expiresAt: Date.now() + 400,
        ts: Date.now(),
      };
      await stack.pub.admin.xadd(stack.pub.keys.stream, '*', ...encodeEntry(n));
      expect(await settledOn('late-otp', 'email')).toMatchObject({ state: 'skipped', reason: 'expired' });
      expect(stack.smtp.messages.some((m) => m.to.includes('otp-late@example.com'))).toBe(false);
    } finally {
      stack.smtp.reset();
    }
  });
});
