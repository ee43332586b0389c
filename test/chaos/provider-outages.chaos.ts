import { expect, it } from 'vitest';
import { CHANNELS, parseEnv, workerEnv, type Channel } from '@herald/shared';
import { useStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';
import { addUsers } from './chaos-users.js';
import { DeliveryTally, smsRef } from './delivery-tally.js';
import { publishBatch } from './publish-batch.js';
import { printRow } from './scenario-row.js';
import { groupsDrained } from './stream-state.js';

/**
 * Provider outages, all at once: the SMTP server gone for 20 s, Twilio answering 429 with
 * Retry-After for 10 s, push answering 500 for 15 s. Every notification is delivered once they
 * are back, within the default retry policy, and nothing is dead-lettered; then one notification
 * to a number Twilio refuses for good is dead-lettered exactly once.
 */
const OUTAGE_MS: Record<Channel, number> = { email: 20_000, sms: 10_000, push: 15_000 };
const NOTIFICATIONS = 500;
/**
 * The retry policy a deployment has without settings (the test stack retries faster): attempts
 * about 1, 2, 4, 8 and 16 s apart (±25 %), so the sixth, some 31 s after the first, is past the
 * longest outage, and HERALD_MAX_ATTEMPTS (8) leaves two to spare.
 */
const DEFAULT_POLICY = parseEnv(workerEnv('email'), {});
const WORKER_ENV = {
  HERALD_RETRY_BASE_MS: String(DEFAULT_POLICY.HERALD_RETRY_BASE_MS),
  HERALD_RETRY_MAX_MS: String(DEFAULT_POLICY.HERALD_RETRY_MAX_MS),
  HERALD_MAX_ATTEMPTS: String(DEFAULT_POLICY.HERALD_MAX_ATTEMPTS),
};

const ctx = useStack();

it('delivers everything after the outages without a dead letter, and dead-letters a permanent failure once', async () => {
  const { stack } = ctx;
  const { userIds } = await addUsers(stack, 50);
  const tally = new DeliveryTally(stack);
  await Promise.all(CHANNELS.map((channel) => stack.spawnWorker(channel, WORKER_ENV)));

  const started = Date.now();
  await stack.smtp.stop();
  stack.twilio.respondWith(429, { retryAfterS: 1 });
  stack.push.respondWith(500);
  const batch = (from: number, count: number) =>
    Array.from({ length: count }, (_, k) => {
      const id = `outage-${from + k}`;
      return { id, userId: userIds[(from + k) % userIds.length], type: 'alert', body: `Alert ${smsRef(id)}` };
    });
  // Half before the outages begin to bite, half in the middle of them.
  const ids = await publishBatch(stack.pub, batch(0, NOTIFICATIONS / 2));

  // Each outage ends on its own schedule; what arrived before the end shows it was real.
  const arrivedDuringOutage: Partial<Record<Channel, number>> = {};
  let twilioRequestsDuringOutage = 0;
  const ends = CHANNELS.map(async (channel) => {
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS[channel] - (Date.now() - started)));
    arrivedDuringOutage[channel] = tally.ids(channel).length;
    // Read before endFailures, whose reset() sets the stand-in's request count back to 0.
    if (channel === 'sms') twilioRequestsDuringOutage = stack.twilio.requests;
    if (channel === 'email') await stack.smtp.start();
    else tally.endFailures(channel);
  });
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS.sms / 2 - (Date.now() - started)));
  ids.push(...(await publishBatch(stack.pub, batch(NOTIFICATIONS / 2, NOTIFICATIONS / 2))));
  await Promise.all(ends);
  expect(arrivedDuringOutage).toEqual({ email: 0, sms: 0, push: 0 });
  // Twilio really was asked, and answered 429, during its outage: retries, not silence.
  expect(twilioRequestsDuringOutage).toBeGreaterThan(NOTIFICATIONS);

  const expected = { email: ids, sms: ids, push: ids };
  await waitFor(() => tally.complete(expected), {
    timeoutMs: 120_000,
    intervalMs: 200,
    what: 'every notification on every channel after the outages',
  });
  await waitFor(() => groupsDrained(stack.pub.admin, stack.pub.keys), {
    timeoutMs: 60_000,
    intervalMs: 200,
    what: 'all three groups drained',
  });
  expect(await stack.pub.admin.xlen(stack.pub.keys.deadLetters)).toBe(0);
  const seconds = (Date.now() - started) / 1000;

  // A permanent failure: Twilio refuses the number (400, code 21211). Dead-lettered once, on SMS only.
  const refusedPhone = '+14155559999';
  stack.twilio.invalidNumbers.add(refusedPhone);
  const [permanentId] = await publishBatch(stack.pub, [
    { id: 'outage-permanent', userId: userIds[0], type: 'alert', body: 'Alert', to: { phone: refusedPhone } },
  ]);
  await waitFor(async () => (await stack.pub.admin.xlen(stack.pub.keys.deadLetters)) > 0, {
    what: 'the permanent failure to be dead-lettered',
  });
  await waitFor(() => groupsDrained(stack.pub.admin, stack.pub.keys), {
    timeoutMs: 60_000,
    intervalMs: 200,
    what: 'all three groups drained',
  });
  const letters = await stack.pub.admin.xrange(stack.pub.keys.deadLetters, '-', '+');

  const summary = tally.summarise(expected);
  printRow({
    scenario: 'provider outages',
    published: ids.length + 1,
    delivered: summary.delivered,
    lost: summary.lost,
    duplicated: summary.duplicated,
    deadLettered: letters.length,
    seconds,
  });

  expect(summary.lost, JSON.stringify(summary.lostIds).slice(0, 500)).toBe(0);
  // Outages refuse; they never half-accept: nothing went out twice.
  expect(summary.duplicated).toBe(0);
  expect(letters).toHaveLength(1);
  const [, fields] = letters[0]!;
  expect(fields.slice(0, 8)).toEqual([
    'channel',
    'sms',
    'streamId',
    expect.any(String),
    'id',
    permanentId,
    'reason',
    'permanent',
  ]);
  const status = (await stack.pub.app.inject({ method: 'GET', url: `/v1/notifications/${permanentId}` })).json();
  expect(status.channels).toMatchObject({
    sms: { state: 'dead', reason: 'permanent', attempts: 1 },
    email: { state: 'delivered' },
    push: { state: 'delivered' },
  });
});
