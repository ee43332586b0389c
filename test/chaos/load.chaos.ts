import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { CHANNELS, makeKeys, readGroupStatus, type Channel } from '@herald/shared';
import { freePort } from '../helpers/free-port.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { seedUsers } from '../helpers/seed-users.js';
import { spawnService, type ServiceProcess } from '../helpers/service-process.js';
import { waitFor } from '../helpers/wait-for.js';
import { printRow } from './scenario-row.js';
import { groupsDrained } from './stream-state.js';

/**
 * Load: 60 s at 3000 notifications a second through the publisher (a real process), one dry-run
 * worker per channel, retention of 10 s trimmed every second. Lag stays bounded and returns to
 * zero; Redis memory and worker RSS stay flat once the retention window is reached.
 */
const RATE = 3000;
const SECONDS = 60;
const TICK_MS = 100;
const PER_TICK = (RATE * TICK_MS) / 1000;
const RETENTION_S = 10;
const USERS = 1000;
/**
 * Lag may not pass 30 s of traffic (half the run), and must return to zero after it.
 *
 * On the two-core machine this suite runs on, 3000 a second is close to what the whole stack
 * (publisher, three workers, Redis and this test) can do: with the machine otherwise idle the lag
 * levelled off at 12000 to 14000; with other work beside it, it grew through the run to 48000 to
 * 60000, then fell back to zero within some 20 s. That is a capacity limit (`npm run bench`,
 * bench/README.md), not a leak: the rule checked is that nothing runs away (lag, memory, RSS)
 * and everything is caught up. Before the consumer's tuning the lag passed 120000.
 */
const MAX_LAG = RATE * 30;
/**
 * Growth allowed after the retention window is reached: 1.3 for worker RSS (GC and sampling
 * noise), 1.5 for Redis: one CI run measured 31 MB in the window and 41 MB in the last third
 * (1.33) with no more lag, most likely records past their TTL that Redis's active expiry had not
 * reached yet on a saturated core. A leak of one record per notification (some 200 bytes at
 * 3000/s) would add 24 MB in the last 40 s and still fail.
 * Redis also holds the unread backlog, which the trimmer must keep (nothing unread is trimmed),
 * so its memory may grow further by BACKLOG_ENTRY_BYTES per entry the lag grew: a stream entry is some
 * 320 bytes, and with its listpack share and the pending records' growth about 570 was measured
 * here (15 MB more for 26000 more entries of lag).
 */
const REDIS_MARGIN = 1.5;
const RSS_MARGIN = 1.3;
const BACKLOG_ENTRY_BYTES = 600;

const keys = makeKeys({ HERALD_STREAM: 'user:notifications', HERALD_KEY_PREFIX: 'herald:' });
let redis: TestRedis;
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 60_000);
afterAll(async () => {
  for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await redis?.destroy();
});

/** A metric's value; throws when the metric is missing, so a renamed one cannot pass as 0. */
async function metric(port: number, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = pattern.exec(text);
  if (!match) throw new Error(`no metric ${pattern} on port ${port}`);
  return Number(match[1]);
}

it('keeps lag bounded and memory flat at 3000 notifications a second, and catches up', async () => {
  const admin = new Redis(redis.url);
  try {
    await seedUsers(admin, keys, USERS, 'load');

    // Records expire with the longer of the idempotency and retention windows: both short, or
    // memory grows with every notification ever published however the stream is trimmed.
    // No rate limit: one client sends 3000 notifications a second, far beyond the default budget.
    const env = {
      REDIS_URL: redis.url,
      LOG_LEVEL: 'info',
      HERALD_RETENTION_S: String(RETENTION_S),
      HERALD_IDEMPOTENCY_TTL_S: String(RETENTION_S),
      HERALD_RATE_LIMIT: '0',
    };
    const port = await freePort();
    const publisher = spawnService('services/publisher/src/main.ts', { ...env, PORT: String(port) });
    processes.push(publisher);
    await publisher.waitForOutput('publisher listening');
    const metricsPorts = {} as Record<Channel, number>;
    for (const channel of CHANNELS) {
      const worker = spawnService(`services/${channel}/src/main.ts`, {
        ...env,
        HERALD_DRY_RUN: 'true',
        HERALD_METRICS_PORT: '0',
        HERALD_TRIM_INTERVAL_S: '1',
        HERALD_CONSUMER: `load-${channel}`,
      });
      processes.push(worker);
      await worker.waitForOutput('worker started');
      metricsPorts[channel] = Number(/"metricsPort":(\d+)/.exec(worker.output())![1]);
    }

    const samples: { t: number; lag: number; memory: number; rss: number[] }[] = [];
    const samplingErrors: string[] = [];
    const started = Date.now();
    const sampler = setInterval(() => {
      void (async () => {
        const groups = await readGroupStatus(admin, keys);
        const memory = Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))![1]);
        const rss = await Promise.all(
          CHANNELS.map((c) => metric(metricsPorts[c], /herald_worker_process_resident_memory_bytes\{[^}]*\} (\d+)/)),
        );
        samples.push({
          t: (Date.now() - started) / 1000,
          lag: Math.max(...groups.map((g) => g.lag + g.pending)),
          memory,
          rss,
        });
      })().catch((err: unknown) => samplingErrors.push((err as Error).message));
    }, 1000);

    // A steady pacer: one batch every 100 ms on a fixed schedule, a few requests in flight at most.
    let accepted = 0;
    let unavailable = 0;
    const inFlight = new Set<Promise<void>>();
    for (let tick = 0; tick < (SECONDS * 1000) / TICK_MS; tick++) {
      const due = started + tick * TICK_MS;
      if (Date.now() < due) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
      while (inFlight.size >= 4) await Promise.race(inFlight);
      const notifications = Array.from({ length: PER_TICK }, (_, k) => {
        const n = tick * PER_TICK + k;
        return {
          id: `load-${n}`,
          userId: `load-${n % USERS}`,
          type: 'alert',
          title: 'Load',
          body: `Notification ${n}`,
        };
      });
      const body = JSON.stringify({ notifications });
      const request = (async () => {
        // A 503 (a Redis command slower than HERALD_REDIS_TIMEOUT_MS) is retried with the same
        // ids, as the API asks: the publisher deduplicates them.
        for (let attempt = 1; ; attempt++) {
          const res = await fetch(`http://127.0.0.1:${port}/v1/notifications/batch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          if (res.status === 503) {
            unavailable += 1;
            await res.arrayBuffer();
            // Backoff as the API's clients would use; the 503 itself came within HERALD_REDIS_TIMEOUT_MS.
            await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt)));
            continue;
          }
          if (res.status !== 202) throw new Error(`batch answered ${res.status}: ${await res.text()}`);
          const { results } = (await res.json()) as { results: { status?: string }[] };
          accepted += results.filter((r) => r.status === 'accepted' || r.status === 'duplicate').length;
          return;
        }
      })().finally(() => inFlight.delete(request));
      inFlight.add(request);
    }
    await Promise.all(inFlight);
    const publishSeconds = (Date.now() - started) / 1000;
    const drained = await waitFor(() => groupsDrained(admin, keys), {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: 'lag back to zero',
    }).then(
      () => true,
      () => false,
    );
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);

    const delivered = {} as Record<Channel, number>;
    for (const channel of CHANNELS) {
      delivered[channel] = await metric(
        metricsPorts[channel],
        new RegExp(`herald_deliveries_total\\{channel="${channel}",outcome="delivered"\\} (\\d+)`),
      );
    }
    const lost = CHANNELS.reduce((sum, c) => sum + Math.max(0, accepted - delivered[c]), 0);
    const deadLettered = await admin.xlen(keys.deadLetters);
    printRow({
      scenario: 'load (dry run)',
      published: accepted,
      delivered,
      lost,
      duplicated: CHANNELS.reduce((sum, c) => sum + Math.max(0, delivered[c] - accepted), 0),
      deadLettered,
      seconds,
    });
    const during = samples.filter((s) => s.t <= publishSeconds);
    const window = during.filter((s) => s.t >= RETENTION_S && s.t <= 2 * RETENTION_S);
    const lastThird = during.filter((s) => s.t >= (publishSeconds * 2) / 3);
    const max = (list: number[]) => Math.max(...list);
    const report = {
      publishSeconds,
      unavailable,
      rate: Math.round(accepted / publishSeconds),
      maxLag: max(during.map((s) => s.lag)),
      memoryMb: [max(window.map((s) => s.memory)), max(lastThird.map((s) => s.memory))].map((b) => Math.round(b / 1e6)),
      rssMb: CHANNELS.map((_, i) =>
        [max(window.map((s) => s.rss[i]!)), max(lastThird.map((s) => s.rss[i]!))].map((b) => Math.round(b / 1e6)),
      ),
    };
    console.log(`load: ${JSON.stringify(report)}; lag by second: ${samples.map((s) => s.lag).join(' ')}`);

    // A sampler that failed, or too few samples, would let every check below pass on nothing.
    expect(samplingErrors.slice(0, 3)).toEqual([]);
    expect(window.length).toBeGreaterThanOrEqual(RETENTION_S / 2);
    expect(lastThird.length).toBeGreaterThanOrEqual(SECONDS / 6);
    expect(drained, `lag back to zero within 120 s: ${JSON.stringify(await readGroupStatus(admin, keys))}`).toBe(true);
    expect(accepted).toBe(RATE * SECONDS);
    // The pacer kept the rate: 60 s of traffic took at most a few seconds more to publish.
    expect(publishSeconds).toBeLessThan(SECONDS * 1.1);
    expect(report.maxLag).toBeLessThanOrEqual(MAX_LAG);
    expect(lost).toBe(0);
    expect(deadLettered).toBe(0);
    const backlogGrowth = Math.max(0, max(lastThird.map((s) => s.lag)) - max(window.map((s) => s.lag)));
    expect(max(lastThird.map((s) => s.memory))).toBeLessThanOrEqual(
      max(window.map((s) => s.memory)) * REDIS_MARGIN + backlogGrowth * BACKLOG_ENTRY_BYTES,
    );
    CHANNELS.forEach((_, i) =>
      expect(max(lastThird.map((s) => s.rss[i]!))).toBeLessThanOrEqual(max(window.map((s) => s.rss[i]!)) * RSS_MARGIN),
    );
  } finally {
    admin.disconnect();
  }
}, 300_000);
