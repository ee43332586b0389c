import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { Redis } from 'ioredis';
import { CHANNELS, makeKeys, toRecord, type Channel, type Notification } from '@herald/shared';
import { freePort } from '../test/helpers/free-port.js';
import { seedUsers } from '../test/helpers/seed-users.js';
import { ROOT, spawnNode, spawnService, type ServiceProcess } from '../test/helpers/service-process.js';

/** What the scenarios share: users, Herald's processes, and when everything is handled. */
export const USERS = 1000;
export const keys = makeKeys({ HERALD_STREAM: 'user:notifications', HERALD_KEY_PREFIX: 'herald:' });

/** A notification shaped like Herald's traffic: an OTP with a body of about 200 bytes in all. */
export function benchNotification(i: number, prefix = 'bench'): Notification {
  return {
    v: 1,
    id: `${prefix}-${i}`,
    userId: `user-${i % USERS}`,
    type: 'otp',
    payload: {
      title: 'Your code',
      body: `Your sign-in code is ${String(i).padStart(6, '0')}. It expires in 10 minutes.`,
      data: { n: i },
    },
    ts: Date.now(),
  };
}

/** The request body of `POST /v1/notifications` for it. */
export function publishRequest(n: Notification): Record<string, unknown> {
  return {
    id: n.id,
    userId: n.userId,
    type: n.type,
    title: n.payload.title,
    body: n.payload.body,
    data: n.payload.data,
  };
}

/** Bounded, kept-alive connections: fetch would open one per request while answers lag. */
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/**
 * POST a JSON body, sending it again on 503 (with the same notification ids), as a real
 * client would; resolves with how many retries it took. Any other answer than `expected` throws.
 */
export async function post(url: string, body: string, expected = 202): Promise<number> {
  for (let retries = 0; ; retries++) {
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    if (status === expected) return retries;
    if (status !== 503 || retries === 4) throw new Error(`${url} answered ${status}: ${text}`);
  }
}

/** Every user (`user-<n>`) with an email, a phone and one push subscription. */
export async function seedBenchUsers(redis: Redis): Promise<void> {
  await seedUsers(redis, keys, USERS, 'user');
}

/** Dry run, no trimming during a run, and no rate limit: one client sends thousands a second. */
export function serviceEnv(redisUrl: string): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'warn',
    HERALD_DRY_RUN: 'true',
    HERALD_METRICS_PORT: '0',
    HERALD_TRIM_INTERVAL_S: '3600',
    HERALD_RATE_LIMIT: '0',
  };
}

/** A service as production runs it: compiled, with node (bench/run.ts builds first). */
function spawnCompiled(service: string, env: Record<string, string>): ServiceProcess {
  return spawnNode([`services/${service}/dist/main.js`], env, ROOT);
}

/**
 * A publisher process, compiled as in production, or scenario 3's server with its bare route
 * (from sources, through tsx); resolves with its base URL.
 */
export async function startPublisher(
  redisUrl: string,
  sourceEntry?: string,
): Promise<{ process: ServiceProcess; base: string }> {
  const port = await freePort();
  const env = { ...serviceEnv(redisUrl), PORT: String(port), LOG_LEVEL: 'info' };
  const process = sourceEntry ? spawnService(sourceEntry, env) : spawnCompiled('publisher', env);
  await process.waitForOutput('publisher listening');
  return { process, base: `http://127.0.0.1:${port}` };
}

export interface Workers {
  processes: { channel: Channel; process: ServiceProcess }[];
  /** Highest resident memory each channel's process reached (VmHWM), in MB. */
  peakRssMb(): Record<string, number>;
  stop(): Promise<void>;
}

/** `replicas` dry-run worker processes per channel, each with HERALD_CONCURRENCY `concurrency`. */
export async function startWorkers(redisUrl: string, replicas = 1, concurrency = 50): Promise<Workers> {
  const processes = CHANNELS.flatMap((channel) =>
    Array.from({ length: replicas }, (_, r) => ({
      channel,
      process: spawnCompiled(channel, {
        ...serviceEnv(redisUrl),
        HERALD_CONSUMER: `bench-${channel}-${r}`,
        HERALD_CONCURRENCY: String(concurrency),
        LOG_LEVEL: 'info',
      }),
    })),
  );
  // Ready once each has made or found its group and started reading (info logs one line then).
  await Promise.all(processes.map(({ process }) => process.waitForOutput('worker started', 60_000)));
  return {
    processes,
    peakRssMb() {
      const peak: Record<string, number> = {};
      for (const { channel, process } of processes) {
        const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${process.child.pid}/status`, 'utf8'))?.[1] ?? 0);
        peak[channel] = Math.max(peak[channel] ?? 0, Math.round(kb / 1024));
      }
      return peak;
    },
    async stop() {
      for (const { process } of processes) process.child.kill('SIGTERM');
      await Promise.all(processes.map(({ process }) => process.exited));
    },
  };
}

/** Resolves once all three groups have read everything and have nothing pending. */
export async function drained(redis: Redis): Promise<void> {
  for (;;) {
    const groups = ((await redis.xinfo('GROUPS', keys.stream)) as unknown[][]).map(toRecord);
    if (groups.length === CHANNELS.length && groups.every((g) => g.lag === 0 && g.pending === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * CPU time a process has used so far, all its threads, in seconds: the scheduler's own count in
 * nanoseconds (/proc/<pid>/task/<tid>/schedstat). /proc/<pid>/stat counts in 10 ms ticks, charged
 * to whatever runs at each tick, which misleads at low rates where work starts on timer ticks.
 */
export function cpuSeconds(pid: number | undefined): number {
  let nanoseconds = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      nanoseconds += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return nanoseconds / 1e9;
}

/** Named processes whose CPU a scenario reads; processes under one name are summed. */
export type NamedPids = [name: string, pid: number | undefined][];

/** The publisher, each channel's workers (replicas under their channel's name) and Redis. */
export async function stackPids(
  redis: Redis,
  publisher: { process: ServiceProcess },
  workers: Workers,
): Promise<NamedPids> {
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  return [
    ['publisher', publisher.process.child.pid],
    ...workers.processes.map(({ channel, process }): NamedPids[number] => [channel, process.child.pid]),
    ['redis', redisPid],
  ];
}

/** Starts counting now; `perNotification(n)` gives each name's CPU since then per notification, in µs. */
export function cpuMeter(pids: NamedPids): { perNotification(n: number): Record<string, number> } {
  const read = () => {
    const seconds: Record<string, number> = {};
    for (const [name, pid] of pids) seconds[name] = (seconds[name] ?? 0) + cpuSeconds(pid);
    return seconds;
  };
  const before = read();
  return {
    perNotification(n) {
      return Object.fromEntries(
        Object.entries(read()).map(([name, s]) => [name, Math.round(((s - before[name]!) * 1e6) / n)]),
      );
    },
  };
}

/** The value at quantile `q` of ascending `sorted`. */
export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function stop(process: ServiceProcess): Promise<void> {
  process.child.kill('SIGTERM');
  await process.exited;
}
