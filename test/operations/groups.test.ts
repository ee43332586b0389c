import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GroupStatus, NotificationStatusView } from '@herald/shared';
import type { ServiceProcess } from '../helpers/service-process.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';

/** GET /v1/groups and the group gauges on /metrics, against real workers and a real Redis. */

const PUBLISH = { authorization: 'Bearer pk' };
const ADMIN = { authorization: 'Bearer ak' };
const GROUP = 'email_notifier_group';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack({ HERALD_API_KEYS: 'pk', HERALD_ADMIN_KEYS: 'ak' });
}, 60_000);
afterEach(() => {
  stack.smtp.reset();
});
afterAll(async () => {
  await stack?.close();
});

let counter = 0;
async function publishEmail(): Promise<{ id: string; streamId: string }> {
  const n = ++counter;
  const res = await stack.pub.app.inject({
    method: 'POST',
    url: '/v1/notifications',
    headers: PUBLISH,
    payload: {
      userId: `groups-${n}`,
      type: 'otp',
      body: `Code ${n}`,
      to: { email: `groups${n}@example.com` },
      channels: ['email'],
    },
  });
  expect(res.statusCode, res.body).toBe(202);
  return res.json();
}

async function emailState(id: string): Promise<string> {
  const res = await stack.pub.app.inject({ method: 'GET', url: `/v1/notifications/${id}`, headers: PUBLISH });
  return res.json<NotificationStatusView>().channels.email.state;
}

async function groups(): Promise<GroupStatus[]> {
  const res = await stack.pub.app.inject({ method: 'GET', url: '/v1/groups', headers: ADMIN });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().groups;
}

async function email(): Promise<GroupStatus> {
  return (await groups()).find((g) => g.channel === 'email')!;
}

/** `name{channel="email",group="email_notifier_group"}`'s value in a Prometheus text exposition. */
function gauge(text: string, name: string, channel = 'email'): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{channel="${channel}",group="${channel}_notifier_group"} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function publisherMetrics(): Promise<string> {
  // Public: no key needed.
  const res = await stack.pub.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  return res.body;
}

async function workerMetrics(worker: ServiceProcess): Promise<string> {
  const port = Number(/"metricsPort":(\d+)/.exec(worker.output())![1]);
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

async function stopWorker(worker: ServiceProcess) {
  worker.child.kill('SIGTERM');
  expect(await worker.exited).toBe(0);
}

describe('group status', () => {
  it('answers all three groups, none existing before any worker ran', async () => {
    const res = await stack.pub.app.inject({ method: 'GET', url: '/v1/groups', headers: ADMIN });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      groups: (['email', 'sms', 'push'] as const).map((channel) => ({
        channel,
        group: `${channel}_notifier_group`,
        exists: false,
        consumers: [],
        pending: 0,
        lag: 0,
        entriesRead: null,
        lastDeliveredId: null,
        oldestPendingAgeMs: 0,
        deadLetters: 0,
      })),
    });
    // With the stream there but still no group, the same.
    await publishEmail();
    expect((await groups()).map((g) => [g.channel, g.exists, g.lag, g.pending])).toEqual([
      ['email', false, 0, 0],
      ['sms', false, 0, 0],
      ['push', false, 0, 0],
    ]);
  });

  it('needs an admin key: 403 with a publish key, 401 without one', async () => {
    for (const route of [
      { method: 'GET' as const, url: '/v1/groups' },
      { method: 'POST' as const, url: '/v1/groups/email/replay', payload: { from: '0' } },
    ]) {
      const forbidden = await stack.pub.app.inject({ ...route, headers: PUBLISH });
      expect(forbidden.statusCode, forbidden.body).toBe(403);
      expect(forbidden.json()).toEqual({ error: { code: 'HERALD_ERR_FORBIDDEN', message: expect.any(String) } });
      const anonymous = await stack.pub.app.inject(route);
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json()).toEqual({ error: { code: 'HERALD_ERR_UNAUTHORIZED', message: expect.any(String) } });
    }
    // The refused replay created nothing.
    expect((await email()).exists).toBe(false);
  });

  it('follows a running worker, a stopped one, and an entry a consumer read and never acknowledged', async () => {
    // The worker's consumer name, as the stack would give it.
    const consumer = stack.workerEnv('email').HERALD_CONSUMER!;
    const worker = await stack.spawnWorker('email', { HERALD_CONSUMER: consumer });
    const published: { id: string; streamId: string }[] = [];
    for (let i = 0; i < 19; i++) published.push(await publishEmail());
    // With the one published before any worker ran, 20 delivered.
    await stack.smtp.waitForMessages(20, 20_000);
    for (const { id } of published)
      await waitFor(async () => (await emailState(id)) === 'delivered', { what: `${id} delivered` });
    let status = await waitFor(
      async () => {
        const g = await email();
        return g.exists && g.pending === 0 && g.lag === 0 && g.lastDeliveredId === published.at(-1)!.streamId
          ? g
          : undefined;
      },
      { what: 'the email group to catch up' },
    );
    expect(status).toEqual({
      channel: 'email',
      group: GROUP,
      exists: true,
      consumers: [{ name: consumer, pending: 0, idleMs: expect.any(Number) }],
      pending: 0,
      lag: 0,
      // Everything in the stream, read (the group was made with nothing trimmed before it).
      entriesRead: published.length + 1,
      lastDeliveredId: published.at(-1)!.streamId,
      oldestPendingAgeMs: 0,
      deadLetters: 0,
    });
    expect(status.consumers[0]!.idleMs).toBeGreaterThanOrEqual(0);
    expect((await groups()).filter((g) => g.channel !== 'email').map((g) => g.exists)).toEqual([false, false]);
    expect(stack.smtp.messages).toHaveLength(20);

    // Stopped, with 5 more published: 5 behind, nothing pending.
    await stopWorker(worker);
    const later: { id: string; streamId: string }[] = [];
    for (let i = 0; i < 5; i++) later.push(await publishEmail());
    status = await email();
    expect(status).toMatchObject({
      exists: true,
      consumers: [{ name: consumer, pending: 0 }],
      pending: 0,
      lag: 5,
      lastDeliveredId: published.at(-1)!.streamId,
      oldestPendingAgeMs: 0,
      deadLetters: 0,
    });
    let metrics = await publisherMetrics();
    expect(metrics).toContain(`herald_group_lag{channel="email",group="${GROUP}"} 5\n`);
    expect(gauge(metrics, 'herald_group_pending')).toBe(0);
    expect(gauge(metrics, 'herald_dead_letters')).toBe(0);
    expect(gauge(metrics, 'herald_group_consumers')).toBe(1);
    expect(gauge(metrics, 'herald_group_oldest_pending_age_seconds')).toBe(0);
    // Every channel is there, the groups not yet made at 0.
    expect(gauge(metrics, 'herald_group_lag', 'sms')).toBe(0);
    expect(gauge(metrics, 'herald_group_lag', 'push')).toBe(0);

    // A ghost consumer reads one entry and never acknowledges it.
    const read = (await stack.pub.admin.xreadgroup(
      'GROUP',
      GROUP,
      'ghost-1',
      'COUNT',
      1,
      'STREAMS',
      stack.pub.keys.stream,
      '>',
    )) as [string, [string, string[]][]][];
    expect(read[0]![1][0]![0]).toBe(later[0]!.streamId);
    status = await waitFor(
      async () => {
        const g = await email();
        return g.oldestPendingAgeMs > 0 ? g : undefined;
      },
      { what: 'the pending entry to age' },
    );
    expect(status).toMatchObject({ pending: 1, lag: 4, lastDeliveredId: later[0]!.streamId });
    expect(status.consumers).toEqual(
      expect.arrayContaining([
        { name: consumer, pending: 0, idleMs: expect.any(Number) },
        { name: 'ghost-1', pending: 1, idleMs: expect.any(Number) },
      ]),
    );
    expect(status.consumers).toHaveLength(2);
    // The age is the entry's, counted from its id.
    expect(status.oldestPendingAgeMs).toBeGreaterThanOrEqual(
      Date.now() - Number(later[0]!.streamId.split('-')[0]) - 1000,
    );
    // One reading answers scrapes for up to a second (GROUP_READING_FRESH_MS).
    metrics = await waitFor(
      async () => {
        const text = await publisherMetrics();
        return gauge(text, 'herald_group_pending') === 1 ? text : undefined;
      },
      { what: 'the gauges to show the pending entry' },
    );
    expect(gauge(metrics, 'herald_group_lag')).toBe(4);
    expect(gauge(metrics, 'herald_group_consumers')).toBe(2);
    expect(gauge(metrics, 'herald_group_oldest_pending_age_seconds')).toBeGreaterThan(0);
  });

  it("shows the same figures on a worker's /metrics, for its own channel only", async () => {
    // A long send time-out makes a long lease: this worker leaves the ghost's entry alone.
    const worker = await stack.spawnWorker('email', { HERALD_SEND_TIMEOUT_MS: '60000' });
    // It reads the 4 entries behind; one of them is refused for good and dead-lettered.
    stack.smtp.failWith(550, 1);
    const status = await waitFor(
      async () => {
        const g = await email();
        return g.lag === 0 && g.pending === 1 && g.deadLetters === 1 ? g : undefined;
      },
      { what: 'the worker to read what was behind' },
    );
    await stack.smtp.waitForMessages(3);
    expect(status.consumers.find((c) => c.name === 'ghost-1')).toMatchObject({ pending: 1 });

    // Each reads the groups at most once a second (GROUP_READING_FRESH_MS), so a scrape may
    // still show the reading from before the worker caught up: wait for a fresh one.
    const caughtUp = (read: () => Promise<string>, what: string) =>
      waitFor(
        async () => {
          const text = await read();
          return gauge(text, 'herald_group_lag') === 0 && gauge(text, 'herald_dead_letters') === 1 ? text : undefined;
        },
        { what },
      );
    const fromWorker = await caughtUp(() => workerMetrics(worker), "the worker's gauges to catch up");
    const fromPublisher = await caughtUp(publisherMetrics, "the publisher's gauges to catch up");
    for (const text of [fromWorker, fromPublisher]) {
      expect(text).toContain(`herald_group_lag{channel="email",group="${GROUP}"} 0\n`);
      expect(text).toContain(`herald_group_pending{channel="email",group="${GROUP}"} 1\n`);
      expect(text).toContain(`herald_dead_letters{channel="email",group="${GROUP}"} 1\n`);
      expect(gauge(text, 'herald_group_consumers')).toBe(status.consumers.length);
      expect(gauge(text, 'herald_group_oldest_pending_age_seconds')).toBeGreaterThan(0);
    }
    // The worker speaks for its own channel; the publisher for all three.
    expect(fromWorker).not.toMatch(/herald_group_\w+\{channel="(sms|push)"/);
    expect(fromWorker).not.toMatch(/herald_dead_letters\{channel="(sms|push)"/);
    expect(gauge(fromPublisher, 'herald_group_pending', 'sms')).toBe(0);
    expect(gauge(fromPublisher, 'herald_dead_letters', 'push')).toBe(0);
    await stopWorker(worker);
  });
});
