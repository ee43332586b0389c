import { expect, it } from 'vitest';
import { CHANNELS, decodeEntry, type Channel } from '@herald/shared';
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
 * channel killed with SIGKILL (no drain, no settle) and started again, until every notification
 * has arrived on every channel. Nothing may be lost; a notification may go out once more only for
 * each kill that caught it in flight.
 */
const NOTIFICATIONS = 20_000;
const USERS = 200;
const KILL_EVERY_MS = 2000;
/**
 * A round kills one replica of each channel and waits for their replacements to read, so rounds
 * come every 2 s or as fast as replicas start, whichever is slower: a worker takes about 1.3 s of
 * CPU to start (tsx, zod, ioredis, the SDKs), and three at once take some 2.5 s here under load.
 * Not waiting turns the schedule into a crash loop in which replicas die before they read (tried:
 * after two minutes, under 500 of the 20000 had arrived). Kills stop after this long even if not
 * everything has arrived, so that a lost notification fails the test with its id instead of
 * running into the test's time-out.
 */
const KILLS_FOR_MS = 420_000;
/** Each replica's HERALD_CONCURRENCY: at most this many deliveries are in flight at a kill. */
const CONCURRENCY = 20;
const WORKER_ENV = {
  HERALD_CONCURRENCY: String(CONCURRENCY),
  // A short send time-out makes a short lease (3 s + 2 s), so a killed replica's entries come back soon.
  HERALD_SEND_TIMEOUT_MS: '3000',
};

const ctx = useStack();

/** The notification id of a stream entry the publisher appended. */
function entryId(fields: string[]): string {
  const decoded = decodeEntry(fields);
  if (!decoded.ok) throw new Error(`the publisher appended an entry that does not decode: ${decoded.error.message}`);
  return decoded.notification.id;
}

it('delivers every notification on every channel while replicas are killed every 2 s', async () => {
  const { stack } = ctx;
  const { userIds } = await addUsers(stack, USERS);
  const tally = new DeliveryTally(stack);
  // Each replica under a consumer name of its own, so a kill can ask Redis what that replica held.
  const replicas: Record<Channel, { worker: ServiceProcess; consumer: string }[]> = { email: [], sms: [], push: [] };
  let launched = 0;
  const launchReplica = (channel: Channel) => {
    const consumer = `crash-${channel}-${++launched}`;
    const worker = stack.launchWorker(channel, { ...WORKER_ENV, HERALD_CONSUMER: consumer });
    replicas[channel].push({ worker, consumer });
    return worker;
  };
  await Promise.all(
    CHANNELS.flatMap((channel) => [launchReplica(channel), launchReplica(channel)]).map((w) =>
      w.waitForOutput('worker started'),
    ),
  );

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

  // Every 2 s, kill one replica of each channel (the older of the two, so both slots take turns)
  // and start a new one in its place, until every notification has arrived on every channel.
  const expected = { email: ids, sms: ids, push: ids };
  const done = () => publishedAll && tally.complete(expected);
  const kills: Record<Channel, number> = { email: 0, sms: 0, push: 0 };
  // Per channel, how many kills caught each stream entry in flight: read by the killed replica and
  // not yet acknowledged. A replica renews the idle time of what it works on, so no other replica
  // can have taken such an entry from it before the kill; Redis's pending list says which they are.
  const inFlightAtKills: Record<Channel, Map<string, number>> = { email: new Map(), sms: new Map(), push: new Map() };
  const killsStarted = Date.now();
  let nextKill = killsStarted + KILL_EVERY_MS;
  while (!publishError && !done() && Date.now() - killsStarted < KILLS_FOR_MS) {
    await waitFor(() => Date.now() >= nextKill || done(), {
      timeoutMs: KILL_EVERY_MS + 1000,
      intervalMs: 50,
      what: 'the next kill',
    });
    if (done()) break;
    nextKill = Date.now() + KILL_EVERY_MS;
    await Promise.all(
      CHANNELS.map(async (channel) => {
        const victim = replicas[channel].shift()!;
        victim.worker.child.kill('SIGKILL');
        await victim.worker.exited;
        kills[channel] += 1;
        const pending = (await stack.pub.admin.xpending(
          stack.pub.keys.stream,
          stack.pub.keys.group(channel),
          '-',
          '+',
          10_000,
          victim.consumer,
        )) as [string, string, number, number][];
        // A send that timed out keeps its lease until the provider answers, but no longer holds
        // its entry's place in the pending list: the replica logged it, so count it from there.
        const timedOut = victim.worker
          .output()
          .split('\n')
          .filter((line) => line.includes('send timed out'))
          .map((line) => (JSON.parse(line) as { streamId: string }).streamId);
        for (const streamId of new Set([...pending.map(([id]) => id), ...timedOut])) {
          inFlightAtKills[channel].set(streamId, (inFlightAtKills[channel].get(streamId) ?? 0) + 1);
        }
        await launchReplica(channel).waitForOutput('worker started');
      }),
    );
  }
  const killSeconds = (Date.now() - killsStarted) / 1000;
  await publishing;
  await waitFor(() => tally.complete(expected), {
    timeoutMs: 240_000,
    intervalMs: 200,
    what: 'every notification on every channel',
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
    scenario: 'crashes',
    published: ids.length,
    delivered: summary.delivered,
    lost: summary.lost,
    duplicated: summary.duplicated,
    deadLettered,
    seconds,
  });
  const inFlightTotals = Object.fromEntries(
    CHANNELS.map((c) => [c, [...inFlightAtKills[c].values()].reduce((a, b) => a + b, 0)]),
  );
  console.log(
    `kills per channel: ${JSON.stringify(kills)} in ${killSeconds.toFixed(0)} s; ` +
      `in flight at kills: ${JSON.stringify(inFlightTotals)}; ` +
      `duplicates per channel: ${JSON.stringify(summary.duplicatesByChannel)}`,
  );

  expect(summary.lost, JSON.stringify(summary.lostIds).slice(0, 500)).toBe(0);
  expect(deadLettered).toBe(0);
  // A duplicate needs a send the provider took while its replica died before writing it down. So
  // each arrival beyond the first needs a kill that caught that notification in flight on that
  // channel: at most one extra arrival per delivery in flight at a kill. (An entry taken back from
  // a killed replica is in flight again at its successor, which a later round may kill too.)
  const notificationIds = new Map(
    (await stack.pub.admin.xrange(stack.pub.keys.stream, '-', '+')).map(([streamId, fields]) => [
      streamId,
      entryId(fields),
    ]),
  );
  const beyondBound: string[] = [];
  for (const channel of CHANNELS) {
    // Kills went on for as long as delivery did, a round every 2 s or as fast as replicas start.
    expect(kills[channel]).toBeGreaterThanOrEqual(Math.floor(killSeconds / 10));
    const inFlight = new Map<string, number>();
    for (const [streamId, times] of inFlightAtKills[channel]) inFlight.set(notificationIds.get(streamId)!, times);
    for (const [id, arrivals] of tally.counts(channel)) {
      if (arrivals - 1 > (inFlight.get(id) ?? 0))
        beyondBound.push(`${channel} ${id}: ${arrivals} arrivals, in flight at ${inFlight.get(id) ?? 0} kills`);
    }
  }
  expect(beyondBound.slice(0, 10)).toEqual([]);
}, 900_000);
