import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import { startRedis } from '../test/helpers/redis-server.js';
import { endToEnd } from './scenarios/end-to-end.js';
import { floor } from './scenarios/floor.js';
import { hops } from './scenarios/hops.js';
import { latency } from './scenarios/latency.js';
import { singlePublish } from './scenarios/single-publish.js';

/**
 * `npm run bench`: how close Herald comes to what Redis Streams do on this machine (issue 6).
 * Starts its own redis-server (no persistence), runs each scenario on a fresh stream, prints a
 * table and writes bench/results.json. BENCH_N sets N (default 100000); the scaling runs use
 * N/5 each, since at a concurrency of 1 a run is some twenty times slower. BENCH_SECONDS sets
 * the length of scenarios 3 and 4 (default 10).
 */
const N = Number(process.env.BENCH_N ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SCALING_N = Math.max(1000, Math.round(N / 5));

// The services run compiled, as in production.
execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
const redisServer = await startRedis();
const rows: [string, string, string][] = [];
const row = (name: string, value: string, note = '') => {
  rows.push([name, value, note]);
  process.stdout.write(`${name.padEnd(30)} ${value.padEnd(28)} ${note}\n`);
};

try {
  const redis = new Redis(redisServer.url);
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
  redis.disconnect();

  const floorResult = await floor(redisServer.url, N);
  row('1 floor', `${floorResult.notificationsPerSecond} /s`);

  const e2e = await endToEnd(redisServer.url, N);
  const ratio = Number((e2e.notificationsPerSecond / floorResult.notificationsPerSecond).toFixed(3));
  row('2 end to end', `${e2e.notificationsPerSecond} /s`, `${ratio} of floor (target 0.4)`);
  row(
    '2 CPU per notification',
    Object.entries(e2e.cpuMicrosecondsPerNotification)
      .map(([p, us]) => `${p} ${us}`)
      .join(' ') + ' µs',
  );

  const single = await singlePublish(redisServer.url, SECONDS);
  row(
    '3 single publish',
    `${single.herald.requestsPerSecond} req/s`,
    `bare route ${single.bare.requestsPerSecond} req/s: ${single.ratio} (target 0.5)`,
  );

  // At the 2000/s, and at 500/s: below what this machine sustains, for contrast.
  const latencies = [];
  for (const rate of [2000, 500]) {
    const lat = await latency(redisServer.url, rate, SECONDS);
    latencies.push(lat);
    for (const [channel, ms] of Object.entries(lat.perChannelMs)) {
      row(
        `4 latency ${channel} at ${rate}/s`,
        `p50 ${ms.p50} p99 ${ms.p99} p99.9 ${ms.p999} ms`,
        `sent ${lat.achievedRate}/s (target p99 <= 10)`,
      );
    }
    row(
      `4 CPU at ${rate}/s`,
      Object.entries(lat.cpuMicrosecondsPerNotification)
        .map(([p, us]) => `${p} ${us}`)
        .join(' ') + ' µs',
      `${lat.coresBusy} of ${cpus().length} cores busy`,
    );
  }

  // Where a delivery's time goes when nothing else runs: 100 a second, one request at a time.
  const hopTimes = await hops(redisServer.url, 100, SECONDS);
  for (const [hop, ms] of Object.entries(hopTimes.hopsMs))
    row(`4b ${hop}`, `p50 ${ms.p50} p90 ${ms.p90} p99 ${ms.p99} ms`, `n = ${ms.n}`);
  row(
    '4b CPU per notification',
    Object.entries(hopTimes.cpuMicrosecondsPerNotification)
      .map(([p, us]) => `${p} ${us}`)
      .join(' ') + ' µs',
    'at 100/s',
  );
  const { backToBack, afterIdle5ms } = hopTimes.roundTrip;
  row(
    '4b one Redis round trip',
    `${backToBack.wallP50Ms} ms, ${backToBack.cpuMicrosecondsPerWake} µs CPU`,
    `after 5 ms idle: ${afterIdle5ms.wallP50Ms} ms, ${afterIdle5ms.cpuMicrosecondsPerWake} µs CPU`,
  );

  row('5 memory', `${e2e.bytesPerNotification} B/notification`, 'target 800');
  row(
    '5 worker peak RSS',
    Object.entries(e2e.workerPeakRssMb)
      .map(([c, mb]) => `${c} ${mb}`)
      .join(' ') + ' MB',
  );

  const scaling: { replicas: number; concurrency: number; notificationsPerSecond: number }[] = [];
  for (const [replicas, concurrency] of [
    [1, 1],
    [1, 10],
    [1, 50],
    [2, 50],
  ] as const) {
    const run = await endToEnd(redisServer.url, SCALING_N, replicas, concurrency);
    scaling.push({ replicas, concurrency, notificationsPerSecond: run.notificationsPerSecond });
    row(`6 scaling ${replicas} repl. conc. ${concurrency}`, `${run.notificationsPerSecond} /s`, `N = ${SCALING_N}`);
  }

  const results = {
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, redis: redisVersion },
    n: N,
    floor: floorResult,
    endToEnd: {
      notificationsPerSecond: e2e.notificationsPerSecond,
      ratioToFloor: ratio,
      target: 0.4,
      cpuMicrosecondsPerNotification: e2e.cpuMicrosecondsPerNotification,
      retriedRequests: e2e.retriedRequests,
    },
    singlePublish: single,
    latency: latencies,
    hops: hopTimes,
    memory: { bytesPerNotification: e2e.bytesPerNotification, target: 800, workerPeakRssMb: e2e.workerPeakRssMb },
    scaling: { n: SCALING_N, runs: scaling },
  };
  writeFileSync(new URL('./results.json', import.meta.url), JSON.stringify(results, null, 2) + '\n');
} finally {
  await redisServer.destroy();
}
