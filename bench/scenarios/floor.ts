import { Redis } from 'ioredis';
import { CHANNELS, GROUPS, encodeEntry } from '@herald/shared';
import { benchNotification } from '../herald-stack.js';

/**
 * 1. Floor, the least a fan-out can do: pipelined XADD of N Herald-shaped entries, three groups
 * each reading COUNT 200 and acknowledging each batch with one XACK. Notifications per second,
 * first append to last acknowledgement in all three groups.
 */
export async function floor(redisUrl: string, n: number): Promise<{ notificationsPerSecond: number }> {
  const redis = new Redis(redisUrl);
  await redis.flushall();
  const stream = 'floor:notifications';
  for (const channel of CHANNELS) await redis.xgroup('CREATE', stream, GROUPS[channel], '0', 'MKSTREAM');
  const started = performance.now();
  const producer = (async () => {
    for (let i = 0; i < n; i += 1000) {
      const pipeline = redis.pipeline();
      for (let j = i; j < Math.min(n, i + 1000); j++) pipeline.xadd(stream, '*', ...encodeEntry(benchNotification(j)));
      await pipeline.exec();
    }
  })();
  const consumers = CHANNELS.map(async (channel) => {
    const connection = new Redis(redisUrl);
    let acked = 0;
    while (acked < n) {
      const reply = (await connection.xreadgroup(
        'GROUP',
        GROUPS[channel],
        'c',
        'COUNT',
        200,
        'BLOCK',
        1000,
        'STREAMS',
        stream,
        '>',
      )) as [string, [string, string[]][]][] | null;
      const ids = reply?.[0]?.[1].map(([id]) => id) ?? [];
      if (ids.length) acked += Number(await connection.xack(stream, GROUPS[channel], ...ids));
    }
    connection.disconnect();
  });
  await Promise.all([producer, ...consumers]);
  const seconds = (performance.now() - started) / 1000;
  await redis.flushall();
  redis.disconnect();
  return { notificationsPerSecond: Math.round(n / seconds) };
}
