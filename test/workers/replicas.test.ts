import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';

let stack: TestStack;

beforeEach(async () => {
  stack = await startStack();
}, 60_000);
afterEach(async () => {
  await stack?.close();
});

/** Publish `count` SMS notifications, each to its own number, in batches of 500. */
async function publishSms(count: number, offset = 0): Promise<string[]> {
  const numbers: string[] = [];
  for (let start = 0; start < count; start += 500) {
    const notifications = [];
    for (let i = start; i < Math.min(count, start + 500); i++) {
      const phone = `+1415${String(5_000_000 + offset + i).padStart(7, '0')}`;
      numbers.push(phone);
      notifications.push({ userId: `u${i}`, type: 'otp', body: `Code ${i}`, channels: ['sms'], to: { phone } });
    }
    const res = await stack.pub.app.inject({
      method: 'POST',
      url: '/v1/notifications/batch',
      payload: { notifications },
    });
    expect(res.statusCode).toBe(202);
  }
  return numbers;
}

function delivered(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of stack.twilio.messages) counts.set(m.to, (counts.get(m.to) ?? 0) + 1);
  return counts;
}

async function metric(output: string, name: string): Promise<number> {
  const port = Number(/"metricsPort":(\d+)/.exec(output)![1]);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function groupPending(): Promise<number> {
  return ((await stack.pub.admin.xpending(stack.pub.keys.stream, 'sms_notifier_group')) as [number])[0];
}

describe('replicas of one channel', () => {
  it('split a batch of 1000 between two replicas with no duplicate', async () => {
    const a = await stack.spawnWorker('sms');
    const b = await stack.spawnWorker('sms');
    const numbers = await publishSms(1000);
    await waitFor(() => delivered().size === 1000, { timeoutMs: 60_000, what: '1000 SMS' });
    await waitFor(async () => (await groupPending()) === 0, { what: 'every entry acknowledged' });
    const counts = delivered();
    expect(numbers.every((n) => counts.get(n) === 1)).toBe(true);
    expect(stack.twilio.messages).toHaveLength(1000);
    const byA = await metric(a.output(), 'herald_deliveries_total{channel="sms",outcome="delivered"}');
    const byB = await metric(b.output(), 'herald_deliveries_total{channel="sms",outcome="delivered"}');
    expect(byA + byB).toBe(1000);
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
  });

  it('loses nothing when a replica is killed mid-batch: the other delivers its pending entries', async () => {
    // A small lease, so the survivor takes the victim's entries back quickly.
    const env = { HERALD_SEND_TIMEOUT_MS: '1000', HERALD_CONCURRENCY: '20' };
    stack.twilio.delayMs = 5; // slow enough that the kill lands mid-batch
    const victim = await stack.spawnWorker('sms', env);
    const numbers = await publishSms(1000);
    await waitFor(() => stack.twilio.messages.length >= 100, { what: 'the victim to be mid-batch' });
    victim.child.kill('SIGKILL');
    await victim.exited;
    const pendingAtKill = await groupPending();
    expect(pendingAtKill).toBeGreaterThan(0);

    await stack.spawnWorker('sms', env);
    await waitFor(() => delivered().size === 1000, { timeoutMs: 60_000, what: 'every SMS after the kill' });
    await waitFor(async () => (await groupPending()) === 0, { what: 'every entry acknowledged' });
    const counts = delivered();
    expect(numbers.every((n) => (counts.get(n) ?? 0) >= 1)).toBe(true);
    // Only what was in flight at the kill may go out twice: at most the victim's concurrency.
    const duplicates = stack.twilio.messages.length - 1000;
    expect(duplicates).toBeLessThanOrEqual(20);
  });

  it('on SIGTERM finishes what is in flight, acknowledges it, and exits 0; another replica does the rest', async () => {
    stack.twilio.delayMs = 200;
    const worker = await stack.spawnWorker('sms', { HERALD_CONCURRENCY: '10' });
    const numbers = await publishSms(200);
    await waitFor(() => stack.twilio.messages.length >= 20, { what: 'deliveries under way' });
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('stopped');
    // What it had started, it finished and acknowledged: nothing of its own is left pending.
    const consumers = (await stack.pub.admin.xinfo(
      'CONSUMERS',
      stack.pub.keys.stream,
      'sms_notifier_group',
    )) as unknown[][];
    for (const row of consumers) expect(row[row.indexOf('pending') + 1]).toBe(0);
    const sentByFirst = stack.twilio.messages.length;
    expect(sentByFirst).toBeLessThan(200);

    stack.twilio.delayMs = 0;
    await stack.spawnWorker('sms');
    await waitFor(() => delivered().size === 200, { what: 'the rest by another replica' });
    expect(stack.twilio.messages).toHaveLength(200);
    expect(numbers.every((n) => delivered().get(n) === 1)).toBe(true);
  });
});
