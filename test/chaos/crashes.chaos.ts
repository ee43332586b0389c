import { expect, it } from 'vitest';
import { CHANNELS, type Channel } from '@herald/shared';
import type { ServiceProcess } from '../helpers/service-process.js';
import { useStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';
import { addUsers } from './chaos-users.js';
import { DeliveryTally, smsRef } from './delivery-tally.js';
import { publishBatch } from './publish-batch.js';
import { printRow } from './scenario-row.js';
import { groupsDrained } from './stream-state.js';

/**
 * Crashes: 20000 notifications, two replicas per channel, and every 2 s one replica of each
 * channel killed with SIGKILL (no drain, no settle) and started again. Nothing may be lost; a
 * notification may go out twice only if it was in flight at a kill.
 */
const NOTIFICATIONS = 20_000;
const USERS = 200;
const KILL_EVERY_MS = 2000;
/**
 * Kills go on for the first minute, then the rest drains. Not to the end: a worker takes about
 * 1.3 s of CPU to start (tsx, zod, ioredis, the SDKs), so three restarts every 2 s take most of
 * a two-core machine, and 20000 notifications would need some ten minutes under them. A round
 * waits for its new replicas to read, so on a busy machine rounds come less often than every 2 s.
 */
const KILLS_FOR_MS = 60_000;
/** Each replica's HERALD_CONCURRENCY: at most this many deliveries are in flight at a kill. */
const CONCURRENCY = 20;
const WORKER_ENV = {
  HERALD_CONCURRENCY: String(CONCURRENCY),
  // A short send time-out makes a short lease (3 s + 2 s), so a killed replica's entries come back soon.
  HERALD_SEND_TIMEOUT_MS: '3000',
};

const ctx = useStack();

it('delivers every notification on every channel while replicas are killed every 2 s', async () => {
  const { stack } = ctx;
  const { userIds } = await addUsers(stack, USERS);
  const tally = new DeliveryTally(stack);
  const replicas: Record<Channel, ServiceProcess[]> = { email: [], sms: [], push: [] };
  for (const channel of CHANNELS) {
    for (let r = 0; r < 2; r++) replicas[channel].push(await stack.spawnWorker(channel, WORKER_ENV));
  }

  const started = Date.now();
  const ids: string[] = [];
  let publishedAll = false;
  const publishing = (async () => {
    for (let from = 0; from < NOTIFICATIONS; from += 500) {
      const notifications = [];
      for (let i = from; i < from + 500; i++) {
        const id = `crash-${i}`;
        notifications.push({ id, userId: userIds[i % USERS], type: 'alert', body: `Alert ${smsRef(id)}` });
      }
      ids.push(...(await publishBatch(stack.pub, notifications)));
    }
    publishedAll = true;
  })();
  let publishError: unknown;
  publishing.catch((err: unknown) => (publishError = err));

  // Kill one replica of each channel (the older of the two, so both slots take turns) every
  // 2 s, and start a new one, for a minute or until every notification has arrived everywhere.
  const expected = { email: ids, sms: ids, push: ids };
  const kills: Record<Channel, number> = { email: 0, sms: 0, push: 0 };
  let nextKill = Date.now() + KILL_EVERY_MS;
  const killsUntil = Date.now() + KILLS_FOR_MS;
  while (!publishError && !(publishedAll && tally.complete(expected)) && Date.now() < killsUntil) {
    await waitFor(() => Date.now() >= nextKill || (publishedAll && tally.complete(expected)), { timeoutMs: 3_600_000, intervalMs: 100 });
    if (publishedAll && tally.complete(expected)) break;
    nextKill += KILL_EVERY_MS;
    await Promise.all(
      CHANNELS.map(async (channel) => {
        const victim = replicas[channel].shift()!;
        victim.child.kill('SIGKILL');
        await victim.exited;
        kills[channel] += 1;
        replicas[channel].push(await stack.spawnWorker(channel, WORKER_ENV));
      }),
    );
  }
  await publishing;
  await waitFor(() => tally.complete(expected), { timeoutMs: 300_000, intervalMs: 200, what: 'every notification on every channel' });
  await waitFor(() => groupsDrained(stack.pub.admin, stack.pub.keys), { timeoutMs: 60_000, intervalMs: 200, what: 'all three groups drained' });
  const seconds = (Date.now() - started) / 1000;

  const summary = tally.summarise(expected);
  const deadLettered = await stack.pub.admin.xlen(stack.pub.keys.deadLetters);
  printRow({ scenario: 'crashes', published: ids.length, delivered: summary.delivered, lost: summary.lost, duplicated: summary.duplicated, deadLettered, seconds });
  console.log(`kills per channel: ${JSON.stringify(kills)}; duplicates per channel: ${JSON.stringify(summary.duplicatesByChannel)}`);

  expect(summary.lost, JSON.stringify(summary.lostIds).slice(0, 500)).toBe(0);
  expect(deadLettered).toBe(0);
  for (const channel of CHANNELS) {
    expect(kills[channel]).toBeGreaterThan(0);
    // A duplicate needs a send the provider took while the replica died before writing it down:
    // at most the deliveries in flight at each kill, which HERALD_CONCURRENCY caps.
    expect(summary.duplicatesByChannel[channel]).toBeLessThanOrEqual(kills[channel] * CONCURRENCY);
  }
  // Not "at most twice" per notification: an entry taken back from a killed replica is in flight
  // again at its successor, which the next round may kill too; each extra arrival still needs a
  // kill that caught it in flight, which the bound above counts.
  expect(summary.mostArrivals).toBeLessThanOrEqual(1 + Math.max(...CHANNELS.map((c) => kills[c])));
}, 480_000);
