import { beforeAll, describe, expect, it } from 'vitest';
import type { ChannelStatusView, NotificationStatusView } from '@herald/shared';
import { useStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';

const ctx = useStack();

beforeAll(async () => {
  await ctx.stack.spawnWorker('sms', { HERALD_RATE_PER_S: '1' });
}, 60_000);

/**
 * Longest a message may reach the provider after the worker's last check of its expiresAt: the
 * check comes just before the request, and the stand-in stamps its arrival a moment later (one
 * HTTP request on a kept-alive connection, same host, same clock). Without the check the fourth
 * message of the test below arrives at least 500 ms past its expiresAt.
 */
const TRANSIT_MS = 250;

async function settledOnSms(id: string): Promise<ChannelStatusView> {
  return waitFor(
    async () => {
      const res = await ctx.stack.pub.app.inject({ method: 'GET', url: `/v1/notifications/${id}` });
      const sms = res.json<NotificationStatusView>().channels?.sms;
      return sms && !['pending', 'retrying'].includes(sms.state) ? sms : undefined;
    },
    { what: `${id} to settle on sms` },
  );
}

describe('expiry checked again just before a send', () => {
  it('skips as expired an SMS whose turn under HERALD_RATE_PER_S comes after its expiresAt', async () => {
    const { stack } = ctx;
    const phones = ['+14155550161', '+14155550162', '+14155550163', '+14155550164'];
    const userIds = phones.map((_, i) => `rate-expiry-${i}`);
    for (const [i, userId] of userIds.entries()) {
      const res = await stack.pub.app.inject({
        method: 'PUT',
        url: `/v1/users/${userId}`,
        payload: { phone: phones[i] },
      });
      expect(res.statusCode, res.body).toBe(200);
    }

    // At 1 a second (by Redis's clock) the four go out in four different seconds: the fourth no
    // sooner than 2 s after the first, past the 1.5 s expiry whatever the fraction of a second
    // the first went in. All four are read, and pass the read-time filter, at once.
    const expiresAt = Date.now() + 1500;
    const published = await Promise.all(
      userIds.map(async (userId, i) => {
        const res = await stack.pub.app.inject({
          method: 'POST',
          url: '/v1/notifications',
          payload: { userId, type: 'otp', body: `Code 00${i}`, channels: ['sms'], expiresAt },
        });
        expect(res.statusCode, res.body).toBe(202);
        return { id: res.json<{ id: string }>().id, phone: phones[i]! };
      }),
    );

    const outcomes = [];
    for (const n of published) outcomes.push({ ...n, status: await settledOnSms(n.id) });

    // Nothing lost: each one was either sent or skipped as expired.
    for (const { id, status } of outcomes) {
      expect(
        status.state === 'delivered' || (status.state === 'skipped' && status.reason === 'expired'),
        `${id}: ${JSON.stringify(status)}`,
      ).toBe(true);
    }
    const expired = outcomes.filter((o) => o.status.state === 'skipped');
    expect(expired.length, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(1);

    // The provider got exactly the delivered ones, once each, and none after its expiry.
    // Every status is final, so no send is still on its way.
    const received = stack.twilio.messages.filter((m) => phones.includes(m.to));
    for (const { id, phone, status } of outcomes) {
      const arrivals = received.filter((m) => m.to === phone);
      expect(arrivals, `${id} (${status.state})`).toHaveLength(status.state === 'delivered' ? 1 : 0);
    }
    for (const m of received) {
      expect(
        m.receivedAt,
        `message to ${m.to} arrived ${m.receivedAt - expiresAt} ms after expiresAt`,
      ).toBeLessThanOrEqual(expiresAt + TRANSIT_MS);
    }
  });
});
