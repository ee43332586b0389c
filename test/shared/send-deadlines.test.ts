import { describe, expect, it } from 'vitest';
import { SendDeadlines } from '../../shared/src/runtime/send-deadlines.js';
import { waitFor } from '../helpers/wait-for.js';

describe('SendDeadlines: one sweep instead of a timer per send', () => {
  it('aborts a send that takes longer than the time-out, not before', async () => {
    const deadlines = new SendDeadlines(200);
    const started = Date.now();
    const slow = deadlines.start();
    await waitFor(() => slow.signal.aborted, { what: 'the slow send to be aborted' });
    // Not before its deadline, and late by at most a sweep (generous margin for a busy machine).
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(String(slow.signal.reason)).toMatch(/no answer within 200 ms/);
    slow.done();
  });

  it('aborts a send that started later at its own deadline, not at an earlier one', async () => {
    const deadlines = new SendDeadlines(300);
    const first = deadlines.start();
    const firstStarted = Date.now();
    await waitFor(() => Date.now() - firstStarted >= 150, { what: '150 ms to pass' });
    const second = deadlines.start();
    await waitFor(() => first.signal.aborted, { what: 'the first send to be aborted' });
    expect(second.signal.aborted).toBe(false);
    await waitFor(() => second.signal.aborted, { what: 'the second send to be aborted' });
    first.done();
    second.done();
  });

  it('aborts every send in flight at shutdown, with its reason', () => {
    const deadlines = new SendDeadlines(10_000);
    const send = deadlines.start();
    deadlines.abortAll(new Error('worker shutting down'));
    expect(send.signal.aborted).toBe(true);
    expect((send.signal.reason as Error).message).toBe('worker shutting down');
  });

  it('keeps no timer once no send is in flight, so an idle worker can exit', async () => {
    const deadlines = new SendDeadlines(10_000);
    const send = deadlines.start();
    const timersWhileSending = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    send.done();
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(timersWhileSending - 1);
  });
});
