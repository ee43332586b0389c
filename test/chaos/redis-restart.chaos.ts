import { expect, it } from 'vitest';
import { CHANNELS } from '@herald/shared';
import { useStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';
import { addUsers } from './chaos-users.js';
import { DeliveryTally, smsRef } from './delivery-tally.js';
import { printRow } from './scenario-row.js';
import { groupsDrained } from './stream-state.js';

/**
 * Redis restart: Redis with `appendonly yes` and `appendfsync always` is killed (SIGKILL: no
 * shutdown, no final write; with `always` every acknowledged write is on disk already) and
 * started again on the same port and directory, under a steady publish load. Everything the
 * publisher answered 202 or 200 for must be delivered; neither the publisher nor the workers are
 * restarted.
 */
const USERS = 50;
/** One publish every PACE_MS: a steady load, about 100 a second. */
const PACE_MS = 10;

const ctx = useStack({}, { args: ['--appendonly', 'yes', '--appendfsync', 'always'] });

it('delivers every notification answered 202 or 200 across a Redis crash and restart', async () => {
  const { stack } = ctx;
  const { userIds } = await addUsers(stack, USERS);
  const tally = new DeliveryTally(stack);
  const workers = await Promise.all(CHANNELS.map((channel) => stack.spawnWorker(channel)));

  const accepted: string[] = [];
  const answers = new Map<number, number>();
  let publishing = true;
  let sent = 0;
  const started = Date.now();
  // The upstream app: one notification at a time, never retried, so the ids answered 202/200
  // are exactly the ones the publisher promised.
  const load = (async () => {
    while (publishing) {
      const id = `restart-${sent++}`;
      const res = await stack.pub.app.inject({
        method: 'POST',
        url: '/v1/notifications',
        payload: { id, userId: userIds[sent % USERS], type: 'alert', body: `Alert ${smsRef(id)}` },
      });
      answers.set(res.statusCode, (answers.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode === 202 || res.statusCode === 200) accepted.push(id);
      await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    }
  })();

  await waitFor(() => accepted.length >= 300 && tally.ids('email').length > 0, {
    timeoutMs: 30_000,
    what: 'publishing and delivering',
  });
  await stack.redis.crash();
  // Down long enough for the publisher to answer 503 many times and the workers to lose every connection.
  await waitFor(() => (answers.get(503) ?? 0) >= 50, {
    timeoutMs: 30_000,
    what: 'the publisher to answer 503 while Redis is down',
  });
  const acceptedBeforeRestart = accepted.length;
  await stack.redis.start();
  await waitFor(() => accepted.length >= acceptedBeforeRestart + 300, {
    timeoutMs: 30_000,
    what: 'the publisher to accept again without a restart',
  });
  publishing = false;
  await load;

  const expected = { email: accepted, sms: accepted, push: accepted };
  await waitFor(() => tally.complete(expected), {
    timeoutMs: 120_000,
    intervalMs: 200,
    what: 'every accepted notification on every channel',
  });
  await waitFor(() => groupsDrained(stack.pub.admin, stack.pub.keys), {
    timeoutMs: 60_000,
    intervalMs: 200,
    what: 'all three groups drained',
  });
  const seconds = (Date.now() - started) / 1000;

  const summary = tally.summarise(expected);
  const deadLettered = await stack.pub.admin.xlen(stack.pub.keys.deadLetters);
  printRow({
    scenario: 'redis restart',
    published: accepted.length,
    delivered: summary.delivered,
    lost: summary.lost,
    duplicated: summary.duplicated,
    deadLettered,
    seconds,
  });
  console.log(`publisher answers: ${JSON.stringify(Object.fromEntries(answers))} of ${sent} requests`);

  expect(summary.lost, JSON.stringify(summary.lostIds).slice(0, 500)).toBe(0);
  expect(deadLettered).toBe(0);
  // Nothing but accepted, refused while Redis was away (503) or accepted again: no other answer.
  expect([...answers.keys()].sort()).toEqual([202, 503]);
  // The same processes recovered by themselves.
  // Neither exited nor killed by a signal (a killed process has no exit code either).
  for (const worker of workers) expect([worker.child.exitCode, worker.child.signalCode]).toEqual([null, null]);
  for (const worker of workers) expect(worker.output()).toContain('redis connection restored');
});
