import { Redis } from 'ioredis';
import { CHANNELS, decodeChannelStatus, statusField } from '@herald/shared';
import {
  benchNotification,
  cpuMeter,
  drained,
  keys,
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
 * 4. Latency: `rate` notifications a second for `seconds` through the publisher, one request
 * each; per delivery, the time from the entry's `ts` (set by the publisher on arrival) to the
 * worker's completion (the `updatedAt` it writes with the outcome); p50, p99, p99.9 per channel.
 */
export async function latency(redisUrl: string, rate: number, seconds: number) {
  const redis = new Redis(redisUrl);
  await redis.flushall();
  await seedBenchUsers(redis);
  const publisher = await startPublisher(redisUrl);
  const workers = await startWorkers(redisUrl);
  try {
    const total = rate * seconds;
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const requests: Promise<void>[] = [];
    let retried = 0;
    // The bench itself (this process) sends the requests: its share of the two cores counts too.
    const cpu = cpuMeter([...(await stackPids(redis, publisher, workers)), ['bench client', process.pid]]);
    const started = performance.now();
    for (let sent = 0; sent < total;) {
      // Paced against the clock, so a slow tick does not lower the rate.
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + perTick);
      for (; sent < due; sent++) {
        const body = JSON.stringify(publishRequest(benchNotification(sent, 'lat')));
        requests.push(post(`${publisher.base}/v1/notifications`, body).then((n) => void (retried += n)));
      }
      await new Promise((resolve) => setTimeout(resolve, tickMs));
    }
    await Promise.all(requests);
    const achievedRate = Math.round(total / ((performance.now() - started) / 1000));
    await drained(redis);
    // What each process spent per notification at this rate: small batches cost more per entry.
    const cpuMicrosecondsPerNotification = cpu.perNotification(total);
    // Cores the whole run kept busy at the rate asked for: near the machine's count, it queues.
    const coresBusy = Number(
      ((Object.values(cpuMicrosecondsPerNotification).reduce((a, b) => a + b, 0) * rate) / 1e6).toFixed(2),
    );

    const perChannel: Record<string, { p50: number; p99: number; p999: number; max: number }> = {};
    for (const channel of CHANNELS) {
      const pipeline = redis.pipeline();
      for (let i = 0; i < total; i++) pipeline.hmget(keys.notification(`lat-${i}`), 'ts', statusField(channel));
      const times = ((await pipeline.exec()) ?? []).map(([, reply]) => {
        const [ts, status] = reply as [string, string];
        return decodeChannelStatus(status)!.updatedAt - Number(ts);
      });
      times.sort((a, b) => a - b);
      perChannel[channel] = {
        p50: quantile(times, 0.5),
        p99: quantile(times, 0.99),
        p999: quantile(times, 0.999),
        max: times.at(-1)!,
      };
    }
    return {
      rate,
      achievedRate,
      seconds,
      retriedRequests: retried,
      perChannelMs: perChannel,
      cpuMicrosecondsPerNotification,
      coresBusy,
      targetP99Ms: 10,
    };
  } finally {
    await Promise.all([workers.stop(), stop(publisher.process)]);
    redis.disconnect();
  }
}
