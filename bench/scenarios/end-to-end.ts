import { Redis } from 'ioredis';
import {
  benchNotification,
  cpuMeter,
  drained,
  post,
  publishRequest,
  seedBenchUsers,
  stackPids,
  startPublisher,
  startWorkers,
  stop,
} from '../herald-stack.js';

export interface EndToEndResult {
  notificationsPerSecond: number;
  /** Redis used_memory growth per notification, everything included (scenario 5). */
  bytesPerNotification: number;
  workerPeakRssMb: Record<string, number>;
  /** CPU time per notification while it ran, in microseconds: what bounds it on a small machine. */
  cpuMicrosecondsPerNotification: Record<string, number>;
  /** Batch requests answered 503 (Redis slower than HERALD_REDIS_TIMEOUT_MS) and sent again. */
  retriedRequests: number;
}

/**
 * 2. Herald end to end: N notifications through `POST /v1/notifications/batch` (500 a request,
 * 4 requests at a time) into a publisher process, delivered by dry-run worker processes; from
 * the first request until all three groups have no lag and nothing pending. Scenario 5 reads
 * the memory after it, scenario 6 runs it with other replica counts and concurrencies.
 */
export async function endToEnd(redisUrl: string, n: number, replicas = 1, concurrency = 50): Promise<EndToEndResult> {
  const redis = new Redis(redisUrl);
  await redis.flushall();
  await seedBenchUsers(redis);
  const publisher = await startPublisher(redisUrl);
  const workers = await startWorkers(redisUrl, replicas, concurrency);
  try {
    const memoryBefore = await usedMemory(redis);
    // Per process, replicas of a channel summed: what each part costs per notification.
    const cpu = cpuMeter(await stackPids(redis, publisher, workers));
    const started = performance.now();
    let next = 0;
    let retried = 0;
    const senders = Array.from({ length: 4 }, async () => {
      while (next < n) {
        const from = next;
        next += 500;
        const notifications = [];
        for (let i = from; i < Math.min(n, from + 500); i++) notifications.push(publishRequest(benchNotification(i)));
        retried += await post(`${publisher.base}/v1/notifications/batch`, JSON.stringify({ notifications }));
      }
    });
    await Promise.all(senders);
    await drained(redis);
    const seconds = (performance.now() - started) / 1000;
    return {
      cpuMicrosecondsPerNotification: cpu.perNotification(n),
      notificationsPerSecond: Math.round(n / seconds),
      bytesPerNotification: Math.round(((await usedMemory(redis)) - memoryBefore) / n),
      workerPeakRssMb: workers.peakRssMb(),
      retriedRequests: retried,
    };
  } finally {
    await Promise.all([workers.stop(), stop(publisher.process)]);
    redis.disconnect();
  }
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1] ?? 0);
}
