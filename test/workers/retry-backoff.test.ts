import { beforeAll, describe, expect, it } from 'vitest';
import type { ChannelStatusView, NotificationStatusView } from '@herald/shared';
import { useStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';

const BASE_MS = 1000;
/** Whole-millisecond stamps from two processes (the worker's Date.now, Redis's idle times). */
const ROUNDING_MS = 5;

const ctx = useStack();

beforeAll(async () => {
  await ctx.stack.spawnWorker('sms', { HERALD_RETRY_BASE_MS: String(BASE_MS), HERALD_RETRY_MAX_MS: '60000' });
}, 60_000);

async function smsStatus(id: string): Promise<ChannelStatusView | undefined> {
  const res = await ctx.stack.pub.app.inject({ method: 'GET', url: `/v1/notifications/${id}` });
  return res.json<NotificationStatusView>().channels?.sms;
}

describe('retry backoff with a real worker', () => {
  it('takes a failed entry back no sooner than its backoff, which doubles per attempt', async () => {
    const { stack } = ctx;
    const phone = '+14155550171';
    expect(
      (await stack.pub.app.inject({ method: 'PUT', url: '/v1/users/backoff-user', payload: { phone } })).statusCode,
    ).toBe(200);
    stack.twilio.respondWith(500, { count: 2 });
    const res = await stack.pub.app.inject({
      method: 'POST',
      url: '/v1/notifications',
      payload: { userId: 'backoff-user', type: 'otp', body: 'Code 7777', channels: ['sms'] },
    });
    expect(res.statusCode, res.body).toBe(202);
    const { id } = res.json<{ id: string }>();

    // Each failure is written (updatedAt) before the entry's idle time restarts, so the next
    // attempt cannot start sooner than the backoff after that stamp. The retrying status lasts
    // at least 750 ms, then 1500 ms: plenty for polling every 25 ms to see it.
    const seen = new Map<number, number>();
    const final = await waitFor(
      async () => {
        const sms = await smsStatus(id);
        if (sms?.state === 'retrying') seen.set(sms.attempts, Date.parse(sms.updatedAt));
        return sms && !['pending', 'retrying'].includes(sms.state) ? sms : undefined;
      },
      { what: `${id} to settle on sms` },
    );
    expect(final).toMatchObject({ state: 'delivered', attempts: 3 });
    const firstFailure = seen.get(1);
    const secondFailure = seen.get(2);
    expect(firstFailure, 'the status after the first failure').toBeDefined();
    expect(secondFailure, 'the status after the second failure').toBeDefined();
    const [sms] = stack.twilio.messages.filter((m) => m.to === phone);

    // Lower bounds only: base ±25 % after the first failure, twice that after the second.
    expect(secondFailure! - firstFailure!).toBeGreaterThanOrEqual(0.75 * BASE_MS - ROUNDING_MS);
    expect(sms!.receivedAt - secondFailure!).toBeGreaterThanOrEqual(0.75 * 2 * BASE_MS - ROUNDING_MS);
  });
});
