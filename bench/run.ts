import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import { CHANNELS, GROUPS, encodeEntry, makeKeys, toRecord, type Notification } from '@herald/shared';
import { freePort } from '../test/helpers/free-port.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { spawnService, type ServiceProcess } from '../test/helpers/service-process.js';

/**
 * `npm run bench`: how close Herald comes to what Redis Streams do on this machine. Starts its
 * own redis-server (no persistence), runs each scenario on a fresh stream, prints a table and
 * writes bench/results.json. N (default 100000) from BENCH_N.
 *
 * Scenarios so far: 1 floor, 2 Herald end to end (dry run), 5 memory per notification.
 */
const N = Number(process.env.BENCH_N ?? 100_000);
const USERS = 1000;
const results: Record<string, unknown> = {};

const redisServer = await startRedis();
const redis = new Redis(redisServer.url);
const info = async (section: string, field: string) =>
  Number(new RegExp(`^${field}:(\\S+)`, 'm').exec(await redis.info(section))?.[1] ?? 0);

function entry(i: number): Notification {
  return { v: 1, id: `bench-${i}`, userId: `user-${i % USERS}`, type: 'otp', payload: { title: 'Your code', body: `Your sign-in code is ${String(i).padStart(6, '0')}. It expires in 10 minutes.`, data: { n: i } }, ts: Date.now() };
}

/** 1. Floor: pipelined XADD, three groups reading COUNT 200 and acknowledging each batch with one XACK. */
async function floor(): Promise<number> {
  await redis.flushall();
  const stream = 'floor:notifications';
  for (const channel of CHANNELS) await redis.xgroup('CREATE', stream, GROUPS[channel], '0', 'MKSTREAM');
  const started = performance.now();
  const producer = (async () => {
    for (let i = 0; i < N; i += 1000) {
      const pipeline = redis.pipeline();
      for (let j = i; j < Math.min(N, i + 1000); j++) pipeline.xadd(stream, '*', ...encodeEntry(entry(j)));
      await pipeline.exec();
    }
  })();
  const consumers = CHANNELS.map(async (channel) => {
    const connection = new Redis(redisServer.url);
    let acked = 0;
    while (acked < N) {
      const reply = (await connection.xreadgroup('GROUP', GROUPS[channel], 'c', 'COUNT', 200, 'BLOCK', 1000, 'STREAMS', stream, '>')) as
        | [string, [string, string[]][]][]
        | null;
      const ids = reply?.[0]?.[1].map(([id]) => id) ?? [];
      if (ids.length) acked += Number(await connection.xack(stream, GROUPS[channel], ...ids));
    }
    connection.disconnect();
  });
  await Promise.all([producer, ...consumers]);
  return N / ((performance.now() - started) / 1000);
}

/** 2. Herald end to end: the publisher's batch API, one dry-run worker per channel. */
async function endToEnd(): Promise<{ rate: number; bytesPerNotification: number; workerRssMb: Record<string, number> }> {
  await redis.flushall();
  const keys = makeKeys({ HERALD_STREAM: 'user:notifications', HERALD_KEY_PREFIX: 'herald:' });
  const users = redis.pipeline();
  for (let u = 0; u < USERS; u++) {
    users.hset(keys.user(`user-${u}`), 'email', `user${u}@example.com`, 'phone', `+1415555${String(u).padStart(4, '0')}`, 'updatedAt', '0');
    users.hset(keys.pushSubscriptions(`user-${u}`), `https://push.example.com/${u}`, JSON.stringify({ endpoint: `https://push.example.com/${u}`, keys: { p256dh: 'x', auth: 'y' }, createdAt: 0 }));
  }
  await users.exec();
  const port = await freePort();
  const env = { REDIS_URL: redisServer.url, LOG_LEVEL: 'warn', HERALD_DRY_RUN: 'true', HERALD_METRICS_PORT: '0', HERALD_TRIM_INTERVAL_S: '3600' };
  const processes: ServiceProcess[] = [spawnService('services/publisher/src/main.ts', { ...env, PORT: String(port), LOG_LEVEL: 'info' })];
  await processes[0]!.waitForOutput('publisher listening');
  for (const channel of CHANNELS) processes.push(spawnService(`services/${channel}/src/main.ts`, { ...env, HERALD_CONSUMER: `bench-${channel}` }));
  // Wait until each worker has made its group.
  for (;;) {
    const groups = (await redis.xinfo('GROUPS', keys.stream).catch(() => [])) as unknown[];
    if (groups.length === 3) break;
    await redis.xadd('bench:warmup', '*', 'x', '1');
    await new Promise((r) => setTimeout(r, 100));
  }
  const memoryBefore = await info('memory', 'used_memory');
  const started = performance.now();
  const base = `http://127.0.0.1:${port}/v1/notifications/batch`;
  let next = 0;
  const senders = Array.from({ length: 4 }, async () => {
    while (next < N) {
      const from = next;
      next += 500;
      const notifications = [];
      for (let i = from; i < Math.min(N, from + 500); i++) {
        const n = entry(i);
        notifications.push({ id: n.id, userId: n.userId, type: n.type, title: n.payload.title, body: n.payload.body, data: n.payload.data });
      }
      const res = await fetch(base, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ notifications }) });
      if (res.status !== 202) throw new Error(`batch answered ${res.status}`);
    }
  });
  await Promise.all(senders);
  for (;;) {
    const groups = ((await redis.xinfo('GROUPS', keys.stream)) as unknown[][]).map(toRecord);
    if (groups.every((g) => g.lag === 0 && g.pending === 0)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  const bytesPerNotification = ((await info('memory', 'used_memory')) - memoryBefore) / N;
  const workerRssMb: Record<string, number> = {};
  for (const p of processes.slice(1)) {
    const port = Number(/"metricsPort":(\d+)/.exec(p.output())?.[1]);
    const text = port ? await (await fetch(`http://127.0.0.1:${port}/metrics`)).text() : '';
    workerRssMb[p.output().includes('email worker') ? 'email' : p.output().includes('sms worker') ? 'sms' : 'push'] =
      Math.round(Number(/herald_worker_process_resident_memory_bytes\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0) / 1e6);
  }
  for (const p of processes) p.child.kill('SIGTERM');
  await Promise.all(processes.map((p) => p.exited));
  return { rate: N / seconds, bytesPerNotification, workerRssMb };
}

try {
  const floorRate = await floor();
  const e2e = await endToEnd();
  Object.assign(results, {
    machine: { cores: cpus().length, node: process.version, redis: (await redis.info('server')).match(/redis_version:(\S+)/)?.[1] },
    n: N,
    floor: { notificationsPerSecond: Math.round(floorRate) },
    endToEnd: { notificationsPerSecond: Math.round(e2e.rate), ratioToFloor: Number((e2e.rate / floorRate).toFixed(3)), target: 0.4 },
    memory: { bytesPerNotification: Math.round(e2e.bytesPerNotification), target: 800, workerPeakRssMb: e2e.workerRssMb },
  });
  const rows = [
    ['1 floor', `${Math.round(floorRate)} /s`, ''],
    ['2 end to end', `${Math.round(e2e.rate)} /s`, `${(e2e.rate / floorRate).toFixed(2)} of floor (target 0.4)`],
    ['5 memory', `${Math.round(e2e.bytesPerNotification)} B/notification`, 'target 800'],
  ];
  for (const [name, value, note] of rows) process.stdout.write(`${name!.padEnd(14)} ${value!.padEnd(24)} ${note}\n`);
  writeFileSync(new URL('./results.json', import.meta.url), JSON.stringify(results, null, 2) + '\n');
} finally {
  redis.disconnect();
  await redisServer.destroy();
}
