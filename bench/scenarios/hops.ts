import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { CHANNELS, SCRIPTS, type Channel } from '@herald/shared';
import {
  benchNotification,
  cpuMeter,
  drained,
  post,
  publishRequest,
  quantile,
  seedBenchUsers,
  stackPids,
  startPublisher,
  startWorkers,
  stop,
} from '../herald-stack.js';

/**
 * 4b. Where a delivery's time goes without load: single publishes one at a time, `rate` a second,
 * with Redis MONITOR timing every command Redis runs (microseconds, the same clock as the bench's).
 * Per channel, the hops are: the request to its append (client, HTTP, publisher), the append to
 * the worker's user look-up (woken by XREADGROUP, decode, validate), the look-up to the claim
 * (one round trip, filtering), and the claim to the settle (dry-run send, one round trip). Also
 * the CPU each process spends per notification at this rate, and what one Redis round trip costs
 * a Node process on this machine, warm and after a short idle.
 */
export async function hops(redisUrl: string, rate: number, seconds: number) {
  const redis = new Redis(redisUrl);
  await redis.flushall();
  await seedBenchUsers(redis);
  const wake = await roundTripCost(redis);
  const publisher = await startPublisher(redisUrl);
  const workers = await startWorkers(redisUrl);
  // As Redis receives them: with their includes in place.
  const sha = (lua: string) => createHash('sha1').update(lua).digest('hex');
  const scripts = {
    append: sha(SCRIPTS.publishBatch.lua),
    claim: sha(SCRIPTS.claimBatch.lua),
    settle: sha(SCRIPTS.settleBatch.lua),
  };
  const monitorConnection = new Redis(redisUrl);
  const monitor = await monitorConnection.monitor();
  try {
    /** What Redis ran, by when: [time in ms, connection, command, first argument, fifth argument]. */
    const log: [number, string, string, string, string][] = [];
    monitor.on('monitor', (time: string, args: string[], source: string) => {
      const command = String(args[0]).toLowerCase();
      // A script's first call goes as EVAL with its text: logged by its SHA-1, as EVALSHA is.
      const first =
        command === 'eval' ? createHash('sha1').update(String(args[1])).digest('hex') : String(args[1] ?? '');
      log.push([Number(time) * 1000, source, command === 'eval' ? 'evalsha' : command, first, String(args[4] ?? '')]);
    });
    const total = rate * seconds;
    const sentAt: number[] = [];
    const wallClock = wallClockMs();
    const warmUp = Math.floor(total / 5);
    // Not Redis: feeding MONITOR costs it more than the commands it reports.
    const pids = (await stackPids(redis, publisher, workers)).filter(([name]) => name !== 'redis');
    let cpu = cpuMeter(pids);
    for (let i = 0; i < total; i++) {
      if (i === warmUp) cpu = cpuMeter(pids);
      const due = performance.now() + 1000 / rate;
      sentAt.push(wallClock());
      await post(`${publisher.base}/v1/notifications`, JSON.stringify(publishRequest(benchNotification(i, 'hop'))));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    }
    await drained(redis);
    const cpuMicrosecondsPerNotification = cpu.perNotification(total - warmUp);

    // Which connection is which channel's worker: the one that reads that channel's passes.
    const channelOf = new Map<string, Channel>();
    for (const [, source, command, key] of log) {
      const channel = CHANNELS.find((c) => key.endsWith(`:passes:${c}`));
      if (command === 'hgetall' && channel) channelOf.set(source, channel);
    }
    // Requests go one at a time: everything between two appends belongs to the first. An append
    // names its request by the record key (`...:n:hop-<i>`): the first request's may be missing.
    const isAppend = ([, , command, first]: (typeof log)[number]) => command === 'evalsha' && first === scripts.append;
    const appendAt = log.flatMap((line, at) => (isAppend(line) ? [at] : []));
    const samples: Record<string, number[]> = { 'request → append': [], 'request → last settle': [] };
    appendAt.forEach((at, a) => {
      const append = log[at]!;
      const i = Number(/:n:hop-(\d+)$/.exec(append[4])?.[1] ?? -1);
      if (i < warmUp) return;
      // The log is in Redis's order, so a request's commands are the lines up to the next append.
      const window = log.slice(at, appendAt[a + 1]);
      samples['request → append']!.push(append[0] - sentAt[i]!);
      let lastSettle = 0;
      for (const channel of CHANNELS) {
        const mine = window.filter(([, source]) => channelOf.get(source) === channel);
        const lookUp = mine.find(([, , command, key]) => command === 'hgetall' && key.endsWith(':user'))?.[0];
        const claim = mine.find(([, , command, first]) => command === 'evalsha' && first === scripts.claim)?.[0];
        const settle = mine.find(([, , command, first]) => command === 'evalsha' && first === scripts.settle)?.[0];
        if (lookUp === undefined || claim === undefined || settle === undefined) continue;
        (samples[`${channel}: append → look-up`] ??= []).push(lookUp - append[0]);
        (samples[`${channel}: look-up → claim`] ??= []).push(claim - lookUp);
        (samples[`${channel}: claim → settle`] ??= []).push(settle - claim);
        lastSettle = Math.max(lastSettle, settle);
      }
      if (lastSettle) samples['request → last settle']!.push(lastSettle - sentAt[i]!);
    });
    const hopsMs = Object.fromEntries(
      Object.entries(samples).map(([hop, times]) => {
        times.sort((a, b) => a - b);
        const at = (q: number) => (times.length ? Number(quantile(times, q).toFixed(2)) : NaN);
        return [hop, { n: times.length, p50: at(0.5), p90: at(0.9), p99: at(0.99) }];
      }),
    );
    return { rate, seconds, hopsMs, cpuMicrosecondsPerNotification, roundTrip: wake };
  } finally {
    monitor.disconnect();
    monitorConnection.disconnect();
    await Promise.all([workers.stop(), stop(publisher.process)]);
    redis.disconnect();
  }
}

/**
 * The wall clock (Redis MONITOR's) in milliseconds with sub-millisecond precision. Date.now()
 * only counts whole milliseconds and performance.timeOrigin drifts from it, so the offset is
 * measured: Date.now() - performance.now() is largest, and nearest the true offset, just after
 * a millisecond begins.
 */
function wallClockMs(): () => number {
  let offset = -Infinity;
  for (const end = performance.now() + 20; performance.now() < end;) {
    const now = performance.now();
    offset = Math.max(offset, Date.now() - now);
  }
  return () => performance.now() + offset;
}

/**
 * What a Redis round trip costs a Node process here: wall time, and CPU on its main thread for
 * each wake-up (with the timer's, when idle first), back to back and after 5 ms idle. A delivery
 * at low rates is a chain of such wake-ups.
 */
async function roundTripCost(redis: Redis) {
  const mainThreadSeconds = () =>
    Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
  const measure = async (idleMs: number) => {
    const count = 500;
    const wall: number[] = [];
    // Read once around the loop: reading /proc costs system calls of its own.
    const cpuBefore = mainThreadSeconds();
    for (let i = 0; i < count; i++) {
      if (idleMs) await new Promise((resolve) => setTimeout(resolve, idleMs));
      const t0 = performance.now();
      await redis.ping();
      wall.push(performance.now() - t0);
    }
    const cpu = mainThreadSeconds() - cpuBefore;
    wall.sort((a, b) => a - b);
    return { cpuMicrosecondsPerWake: Math.round((cpu * 1e6) / count), wallP50Ms: Number(wall[count / 2]!.toFixed(3)) };
  };
  await measure(0); // warm-up
  return { backToBack: await measure(0), afterIdle5ms: await measure(5) };
}
