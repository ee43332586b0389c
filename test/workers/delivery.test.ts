import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEntry, toRecord, type Channel, type ChannelState, type NotificationStatusView } from '@herald/shared';
import { startStack, TWILIO_FROM, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack();
  await Promise.all([stack.spawnWorker('email'), stack.spawnWorker('sms'), stack.spawnWorker('push')]);
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

async function api(method: string, url: string, payload?: unknown) {
  const res = await stack.pub.app.inject({
    method: method as 'GET',
    url,
    ...(payload !== undefined ? { payload: payload as object, headers: { 'content-type': 'application/json' } } : {}),
  });
  return res;
}

let userCounter = 0;
async function makeUser(data: Record<string, unknown>, subscriptions = 0) {
  const userId = `user-${++userCounter}`;
  expect((await api('PUT', `/v1/users/${userId}`, data)).statusCode).toBe(200);
  const subs = [];
  for (let i = 0; i < subscriptions; i++) {
    const sub = stack.push.createSubscription();
    expect((await api('POST', `/v1/users/${userId}/push-subscriptions`, sub)).statusCode).toBe(201);
    subs.push(sub);
  }
  return { userId, subs };
}

async function publish(body: Record<string, unknown>) {
  const res = await api('POST', '/v1/notifications', body);
  expect(res.statusCode, res.body).toBe(202);
  return res.json<{ id: string; streamId: string }>();
}

async function status(id: string): Promise<NotificationStatusView> {
  return (await api('GET', `/v1/notifications/${id}`)).json();
}

/** Wait until every named channel has left pending/retrying, then give the status. */
async function settled(id: string, channels: Channel[] = ['email', 'sms', 'push']): Promise<NotificationStatusView> {
  return waitFor(
    async () => {
      const s = await status(id);
      const done = (c: Channel) =>
        s.channels?.[c] !== undefined && !['pending', 'retrying'].includes(s.channels[c].state);
      return channels.every(done) ? s : undefined;
    },
    { what: `notification ${id} to settle on ${channels.join(', ')}` },
  );
}

function states(s: NotificationStatusView): Record<Channel, [ChannelState, string | undefined]> {
  return {
    email: [s.channels.email.state, s.channels.email.reason],
    sms: [s.channels.sms.state, s.channels.sms.reason],
    push: [s.channels.push.state, s.channels.push.reason],
  };
}

describe('delivery through every channel', () => {
  it('delivers one notification by email, SMS and push, with the right recipient and content', async () => {
    const { userId, subs } = await makeUser({ email: 'ada@example.com', phone: '+14155550123' }, 1);
    const { id } = await publish({
      userId,
      type: 'order.shipped',
      title: 'Your order shipped',
      body: 'It arrives on Tuesday.',
      url: 'https://shop.example/orders/42',
      data: { orderId: 42 },
    });

    const mail = (await stack.smtp.waitForMessages(1)).find((m) => m.to.includes('ada@example.com'))!;
    expect(mail.subject).toBe('Your order shipped');
    expect(mail.text).toContain('It arrives on Tuesday.');
    expect(mail.messageId).toContain(id);

    const sms = await waitFor(() => stack.twilio.messages.find((m) => m.to === '+14155550123'));
    expect(sms.from).toBe(TWILIO_FROM);
    expect(sms.body).toBe('Your order shipped\nIt arrives on Tuesday.');

    const push = await waitFor(() => stack.push.received.find((p) => p.endpoint === subs[0]!.endpoint));
    expect(push.json).toMatchObject({
      id,
      type: 'order.shipped',
      title: 'Your order shipped',
      body: 'It arrives on Tuesday.',
      url: 'https://shop.example/orders/42',
      data: { orderId: 42 },
    });
    expect(push.vapidPublicKey).toBe(stack.vapid.publicKey);
    expect(push.topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    expect(push.ttl).toBe(86400);

    const s = await settled(id);
    for (const channel of ['email', 'sms', 'push'] as const) {
      expect(s.channels[channel]).toMatchObject({ state: 'delivered', attempts: 1, providerId: expect.any(String) });
    }
    expect(s.channels.sms.providerId).toBe(sms.sid);
  });

  it('sends to the recipients in `to` over the stored contact data, and to every push subscription', async () => {
    const { userId, subs } = await makeUser({ email: 'stored@example.com', phone: '+14155550100' }, 2);
    const { id } = await publish({
      userId,
      type: 'otp',
      body: 'Code 1234',
      to: { email: 'override@example.com', phone: '+14155550199' },
    });
    await settled(id);
    expect(stack.smtp.messages.some((m) => m.to.includes('override@example.com'))).toBe(true);
    expect(stack.smtp.messages.some((m) => m.to.includes('stored@example.com'))).toBe(false);
    expect(stack.twilio.messages.some((m) => m.to === '+14155550199')).toBe(true);
    for (const sub of subs) expect(stack.push.received.some((p) => p.endpoint === sub.endpoint)).toBe(true);
  });

  it('skips what a channel was not asked for, what the user opted out of, and where there is no recipient', async () => {
    const asker = await makeUser({ email: 'a@example.com', phone: '+14155550101' }, 1);
    const notRequested = await publish({ userId: asker.userId, type: 'otp', body: 'x', channels: ['email'] });
    expect(states(await settled(notRequested.id))).toEqual({
      email: ['delivered', undefined],
      sms: ['skipped', 'not_requested'],
      push: ['skipped', 'not_requested'],
    });

    const optedOut = await makeUser(
      {
        email: 'b@example.com',
        phone: '+14155550102',
        preferences: { marketing: { sms: false, email: true }, '*': { email: false, push: false } },
      },
      1,
    );
    const marketing = await publish({ userId: optedOut.userId, type: 'marketing', body: 'Sale' });
    // The type's own preference wins over `*`; `*` decides where the type says nothing.
    expect(states(await settled(marketing.id))).toEqual({
      email: ['delivered', undefined],
      sms: ['skipped', 'opted_out'],
      push: ['skipped', 'opted_out'],
    });
    const other = await publish({ userId: optedOut.userId, type: 'news', body: 'Hello' });
    expect(states(await settled(other.id))).toEqual({
      email: ['skipped', 'opted_out'],
      sms: ['delivered', undefined],
      push: ['skipped', 'opted_out'],
    });

    const nobody = await publish({ userId: 'no-such-user', type: 'otp', body: 'x' });
    expect(states(await settled(nobody.id))).toEqual({
      email: ['skipped', 'no_recipient'],
      sms: ['skipped', 'no_recipient'],
      push: ['skipped', 'no_recipient'],
    });
  });

  it('skips an entry past its expiresAt on every channel, sending nothing', async () => {
    const { userId } = await makeUser({ email: 'late@example.com', phone: '+14155550103' }, 1);
    const n = {
      v: 1 as const,
      id: 'expired-1',
      userId,
      type: 'otp',
      payload: { body: 'Code 9999' },
      expiresAt: Date.now() - 1000,
      ts: Date.now() - 60_000,
    };
    await stack.pub.admin.xadd(stack.pub.keys.stream, '*', ...encodeEntry(n));
    expect(states(await settled('expired-1'))).toEqual({
      email: ['skipped', 'expired'],
      sms: ['skipped', 'expired'],
      push: ['skipped', 'expired'],
    });
    expect(stack.smtp.messages.some((m) => m.to.includes('late@example.com'))).toBe(false);
    expect(stack.twilio.messages.some((m) => m.to === '+14155550103')).toBe(false);
  });

  it('delivers entries another producer appended, keeps their status, and never sends an id twice', async () => {
    const { userId } = await makeUser({ email: 'producer@example.com' });
    const n = {
      v: 1 as const,
      id: 'foreign-1',
      userId,
      type: 'welcome',
      payload: { title: 'Hi', body: 'Welcome' },
      channels: ['email' as const],
      ts: Date.now(),
    };
    const streamId = await stack.pub.admin.xadd(stack.pub.keys.stream, '*', ...encodeEntry(n));
    const first = await settled('foreign-1', ['email']);
    expect(first).toMatchObject({
      id: 'foreign-1',
      userId,
      type: 'welcome',
      streamId,
      channels: { email: { state: 'delivered' } },
    });

    // The same notification again (a duplicate entry), and one that asks for SMS only: neither
    // sends the email again, and neither erases that it was delivered.
    await stack.pub.admin.xadd(stack.pub.keys.stream, '*', ...encodeEntry(n));
    const smsOnly = await stack.pub.admin.xadd(stack.pub.keys.stream, '*', ...encodeEntry({ ...n, channels: ['sms'] }));
    await waitFor(
      async () => {
        const pending = (await stack.pub.admin.xpending(stack.pub.keys.stream, 'email_notifier_group')) as [number];
        const info = (await stack.pub.admin.xinfo('GROUPS', stack.pub.keys.stream)) as unknown[][];
        const email = info.map(toRecord).find((g) => g.name === 'email_notifier_group')!;
        return pending[0] === 0 && email['last-delivered-id'] === smsOnly;
      },
      { what: 'the email group to pass both entries' },
    );
    expect(stack.smtp.messages.filter((m) => m.to.includes('producer@example.com'))).toHaveLength(1);
    expect((await status('foreign-1')).channels.email.state).toBe('delivered');
  });
});
