import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { startPublisher, stop } from '../herald-stack.js';

/**
 * 3. Single publish: `POST /v1/notifications`, one notification a request, 50 connections for
 * `seconds`, against a bare route on the same Fastify instance in the same process (see
 * publisher-with-bare-route.ts). No id in the body, so each request is a new notification.
 */
export async function singlePublish(redisUrl: string, seconds: number) {
  const redis = new Redis(redisUrl);
  await redis.flushall();
  const publisher = await startPublisher(redisUrl, 'bench/publisher-with-bare-route.ts');
  try {
    const body = JSON.stringify({
      userId: 'user-1',
      type: 'otp',
      title: 'Your code',
      body: 'Your sign-in code is 123456. It expires in 10 minutes.',
      data: { n: 1 },
    });
    const run = async (path: string) => {
      const result = await autocannon({
        url: `${publisher.base}${path}`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections: 50,
        duration: seconds,
      });
      const refused = result.non2xx + result.errors + result.timeouts;
      if (refused > 0) throw new Error(`${path}: ${refused} requests were not answered 2xx`);
      return { requestsPerSecond: Math.round(result.requests.average), p99Ms: result.latency.p99 };
    };
    // Warm both up (JIT), then measure each on its own.
    await autocannon({
      url: `${publisher.base}/bench/bare`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      connections: 10,
      amount: 2000,
    });
    const bare = await run('/bench/bare');
    const herald = await run('/v1/notifications');
    return { herald, bare, ratio: Number((herald.requestsPerSecond / bare.requestsPerSecond).toFixed(3)), target: 0.5 };
  } finally {
    await stop(publisher.process);
    await redis.flushall();
    redis.disconnect();
  }
}
