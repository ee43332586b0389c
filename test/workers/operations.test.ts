import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeEntry, type NotificationStatusView } from '@herald/shared';
import { spawnService, type ServiceProcess } from '../helpers/service-process.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack();
}, 60_000);
afterEach(async () => {
  await stack.stopWorkers();
  stack.smtp.reset();
});
afterAll(async () => {
  await stack?.close();
});

async function publish(body: Record<string, unknown>): Promise<string> {
  const res = await stack.pub.app.inject({ method: 'POST', url: '/v1/notifications', payload: body });
  expect(res.statusCode, res.body).toBe(202);
  return res.json().id;
}

async function emailStatus(id: string) {
  return waitFor(async () => {
    const s = (
      await stack.pub.app.inject({ method: 'GET', url: `/v1/notifications/${id}` })
    ).json<NotificationStatusView>();
    const c = s.channels?.email;
    return c && !['pending', 'retrying'].includes(c.state) ? c : undefined;
  });
}

async function stopWorker(worker: ServiceProcess) {
  worker.child.kill('SIGTERM');
  expect(await worker.exited).toBe(0);
}

describe('running a worker', () => {
  it('stops with exit code 1 naming each missing provider variable', async () => {
    const env = stack.workerEnv('email');
    delete env.SMTP_URL;
    const proc = spawnService('services/email/src/main.ts', { ...env, HERALD_CONCURRENCY: 'many' });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain('HERALD_CONCURRENCY: expected a whole number');
    const sms = spawnService('services/sms/src/main.ts', { ...stack.workerEnv('sms'), TWILIO_ACCOUNT_SID: 'XX123' });
    expect(await sms.exited).toBe(1);
    expect(sms.output()).toContain('TWILIO_ACCOUNT_SID');
    // An extra certificate authority that is not there yet: stop (to be restarted), not run blind.
    const push = spawnService('services/push/src/main.ts', {
      ...stack.workerEnv('push'),
      NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem',
    });
    expect(await push.exited).toBe(1);
    expect(push.output()).toContain('NODE_EXTRA_CA_CERTS: /nonexistent/ca.pem does not exist');
  });

  it('delivers only the types in HERALD_TYPES and skips the others as type_filtered', async () => {
    const worker = await stack.spawnWorker('email', { HERALD_TYPES: 'otp, login' });
    const otp = await publish({
      userId: 'types',
      type: 'otp',
      body: 'Code',
      to: { email: 'types@example.com' },
      channels: ['email'],
    });
    const promo = await publish({
      userId: 'types',
      type: 'promo',
      body: 'Sale',
      to: { email: 'types@example.com' },
      channels: ['email'],
    });
    expect(await emailStatus(otp)).toMatchObject({ state: 'delivered' });
    expect(await emailStatus(promo)).toMatchObject({ state: 'skipped', reason: 'type_filtered' });
    await stopWorker(worker);
  });

  it('runs everything but the provider call with HERALD_DRY_RUN, without provider credentials', async () => {
    const env = stack.workerEnv('email', { HERALD_DRY_RUN: 'true' });
    delete env.SMTP_URL;
    delete env.EMAIL_FROM;
    const worker = spawnService('services/email/src/main.ts', env);
    await worker.waitForOutput('worker started');
    const before = stack.smtp.messages.length;
    const id = await publish({
      userId: 'dry',
      type: 'otp',
      body: 'Code',
      to: { email: 'dry@example.com' },
      channels: ['email'],
    });
    expect(await emailStatus(id)).toMatchObject({ state: 'delivered', providerId: 'dry-run', attempts: 1 });
    expect(stack.smtp.messages.length).toBe(before);
    await stopWorker(worker);
  });

  it('keeps SMS under HERALD_RATE_PER_S across replicas by waiting, without failing or stealing sends', async () => {
    // 10 sends at 2 per second take about 5 s: far past the 1 s send time-out and the 3 s lease.
    // Waiting entries must neither time out nor look abandoned to the other replica (which would
    // take them, count an attempt, and with HERALD_MAX_ATTEMPTS=2 dead-letter them).
    const env = { HERALD_RATE_PER_S: '2', HERALD_SEND_TIMEOUT_MS: '1000', HERALD_MAX_ATTEMPTS: '2' };
    const workers = [await stack.spawnWorker('sms', env), await stack.spawnWorker('sms', env)];
    const before = stack.twilio.messages.length;
    const started = Date.now();
    const ids = [];
    for (let i = 0; i < 10; i++) {
      ids.push(
        await publish({
          userId: 'rate',
          type: 'otp',
          body: `Code ${i}`,
          to: { phone: `+1415555${String(7000 + i)}` },
          channels: ['sms'],
        }),
      );
    }
    for (const id of ids) {
      const s = await waitFor(
        async () => {
          const v = (
            await stack.pub.app.inject({ method: 'GET', url: `/v1/notifications/${id}` })
          ).json<NotificationStatusView>();
          return ['delivered', 'dead'].includes(v.channels?.sms?.state) ? v.channels.sms : undefined;
        },
        { timeoutMs: 20_000 },
      );
      expect(s).toMatchObject({ state: 'delivered', attempts: 1 });
    }
    expect(stack.twilio.messages.length - before).toBe(10);
    expect(Date.now() - started).toBeGreaterThan(3000);
    for (const w of workers) await stopWorker(w);
  });

  it('sends each mail once when the SMTP pool is slower than the send time-out', async () => {
    // One connection, 300 ms a mail, a 1 s time-out: most sends time out while waiting in the
    // pool, yet still go out. Their claims hold until the outcome is known, so no retry sends
    // them again.
    const worker = await stack.spawnWorker('email', {
      HERALD_SEND_TIMEOUT_MS: '1000',
      SMTP_URL: `${stack.smtp.url}?maxConnections=1`,
    });
    stack.smtp.delayMs = 300;
    try {
      const ids = [];
      for (let i = 0; i < 6; i++) {
        ids.push(
          await publish({
            userId: 'slow',
            type: 'otp',
            body: `Code ${i}`,
            to: { email: `slow${i}@example.com` },
            channels: ['email'],
          }),
        );
      }
      for (const id of ids) expect(await emailStatus(id)).toMatchObject({ state: 'delivered' });
      for (let i = 0; i < 6; i++) {
        expect(stack.smtp.messages.filter((m) => m.to.includes(`slow${i}@example.com`))).toHaveLength(1);
      }
    } finally {
      stack.smtp.delayMs = 0;
    }
    await stopWorker(worker);
  });

  it('sends a notification appended twice back to back only once', async () => {
    const worker = await stack.spawnWorker('email');
    stack.smtp.delayMs = 200;
    try {
      const n = {
        v: 1 as const,
        id: 'twice-1',
        userId: 'twice',
        type: 'otp',
        payload: { body: 'Code' },
        channels: ['email' as const],
        to: { email: 'twice@example.com' },
        ts: Date.now(),
      };
      await stack.pub.admin.xadd(stack.pub.keys.stream, '*', ...encodeEntry(n));
      await stack.pub.admin.xadd(stack.pub.keys.stream, '*', ...encodeEntry(n));
      expect(await emailStatus('twice-1')).toMatchObject({ state: 'delivered' });
      await waitFor(
        async () =>
          ((await stack.pub.admin.xpending(stack.pub.keys.stream, 'email_notifier_group')) as [number])[0] === 0,
        {
          what: 'both entries acknowledged',
        },
      );
      expect(stack.smtp.messages.filter((m) => m.to.includes('twice@example.com'))).toHaveLength(1);
    } finally {
      stack.smtp.delayMs = 0;
    }
    await stopWorker(worker);
  });

  it('serves /healthz and /metrics on HERALD_METRICS_PORT', async () => {
    const worker = await stack.spawnWorker('email');
    const port = Number(/"metricsPort":(\d+)/.exec(worker.output())![1]);
    const health = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json();
    expect(health).toMatchObject({ status: 'ok', channel: 'email' });
    const id = await publish({
      userId: 'metrics',
      type: 'otp',
      body: 'Code',
      to: { email: 'm@example.com' },
      channels: ['email'],
    });
    await emailStatus(id);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/herald_deliveries_total\{channel="email",outcome="delivered"\} [1-9]/);
    expect(text).toMatch(/herald_delivery_duration_seconds_count\{channel="email",result="success"\} [1-9]/);
    expect(text).toContain('herald_deliveries_in_flight{channel="email"}');
    await stopWorker(worker);
  });

  it('removes consumers idle longer than HERALD_CONSUMER_GC_S that have nothing pending', async () => {
    const { admin, keys } = stack.pub;
    await admin.xgroup('CREATE', keys.stream, 'email_notifier_group', '0', 'MKSTREAM').catch(() => undefined);
    // Catch the group up, so the ghosts read nothing older.
    await admin.xgroup('SETID', keys.stream, 'email_notifier_group', '$');
    await admin.xgroup('CREATECONSUMER', keys.stream, 'email_notifier_group', 'ghost-idle');
    await admin.xadd(
      keys.stream,
      '*',
      'v',
      '1',
      'id',
      'held',
      'userId',
      'u',
      'type',
      'otp',
      'payload',
      '{"body":"b"}',
      'channels',
      'sms',
      'ts',
      '1',
    );
    await admin.xreadgroup('GROUP', 'email_notifier_group', 'ghost-busy', 'COUNT', 1, 'STREAMS', keys.stream, '>');
    const names = async () =>
      ((await admin.xinfo('CONSUMERS', keys.stream, 'email_notifier_group')) as unknown[][]).map((row) =>
        String(row[1]),
      );
    expect(await names()).toEqual(expect.arrayContaining(['ghost-idle', 'ghost-busy']));
    await waitFor(
      async () => {
        const rows = (await admin.xinfo('CONSUMERS', keys.stream, 'email_notifier_group')) as unknown[][];
        return rows.every((row) => Number(row[row.indexOf('idle') + 1]) > 1000);
      },
      { what: 'the ghosts to be idle for a second' },
    );

    const worker = await stack.spawnWorker('email', { HERALD_CONSUMER_GC_S: '1', HERALD_SEND_TIMEOUT_MS: '60000' });
    await waitFor(async () => !(await names()).includes('ghost-idle'), { what: 'the idle consumer to be removed' });
    // The one with an entry pending stays: removing it would drop the entry with it.
    expect(await names()).toContain('ghost-busy');
    await stopWorker(worker);
  });

  it('stops within HERALD_SHUTDOWN_MS even while Redis is unreachable', async () => {
    const worker = await stack.spawnWorker('email', { HERALD_SHUTDOWN_MS: '2000' });
    await stack.redis.stop();
    try {
      const started = Date.now();
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(2000 + 3000);
    } finally {
      await stack.redis.start();
    }
  });

  it('goes on by itself after Redis restarts', async () => {
    const worker = await stack.spawnWorker('email');
    await stack.redis.stop();
    await stack.redis.start();
    // A Redis without persistence comes back empty: the worker makes its group again.
    await waitFor(
      async () => {
        const res = await stack.pub.app.inject({
          method: 'POST',
          url: '/v1/notifications',
          payload: {
            userId: 'r',
            type: 'otp',
            body: 'after restart',
            to: { email: 'restart@example.com' },
            channels: ['email'],
          },
        });
        return res.statusCode === 202;
      },
      { what: 'the publisher to recover' },
    );
    await waitFor(() => stack.smtp.messages.some((m) => m.to.includes('restart@example.com')), {
      what: 'delivery after the restart',
    });
    expect(worker.child.exitCode).toBeNull();
    await stopWorker(worker);
  });
});
