import { describe, expect, it } from 'vitest';
import { HeraldError, type Issue } from '@herald/shared';
import { BATCH_BODY_LIMIT } from '../../services/publisher/src/app.js';
import { usePublisher } from '../helpers/publisher.js';

/**
 * Error answers are bounded (issue 12): a 1 MiB batch of bad items answered 17.8 MB of issues,
 * each unknown field one issue, listed once for its item and again for the batch.
 */
const ctx = usePublisher({}, { perFile: true });

const VALID = { userId: 'u1', type: 'otp', body: 'Your code is 123456' };

/** `count` unknown fields with short names: each is an issue of its own. */
function unknownFields(count: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 0]));
}

interface ErrorAnswer {
  error: { code: string; message: string; issues?: Issue[] };
  results?: ({ error: { code: string; message: string; issues?: Issue[] } } | { status: string })[];
}

function postBatch(payload: string) {
  return ctx.pub.app.inject({
    method: 'POST',
    url: '/v1/notifications/batch',
    headers: { 'content-type': 'application/json' },
    payload,
  });
}

describe('HeraldError.toBody', () => {
  it('lists at most 20 issues and says how many there were', () => {
    const issues = Array.from({ length: 25 }, (_, i) => ({ path: `f${i}`, message: 'unknown field' }));
    const { error } = new HeraldError('HERALD_ERR_VALIDATION', 'The request is invalid', issues).toBody();
    expect(error.issues).toEqual(issues.slice(0, 20));
    expect(error.message).toMatch(/^The request is invalid \(20 of 25 issues listed; .+\)$/);

    const few = new HeraldError('HERALD_ERR_VALIDATION', 'The request is invalid', issues.slice(0, 3)).toBody();
    expect(few.error).toEqual({
      code: 'HERALD_ERR_VALIDATION',
      message: 'The request is invalid',
      issues: issues.slice(0, 3),
    });
  });

  it('clips a long issue path or message in its middle: field names are the client text', () => {
    const long = new HeraldError('HERALD_ERR_VALIDATION', 'The request is invalid', [
      { path: 'a'.repeat(100_000), message: 'b'.repeat(100_000) },
    ]);
    const { error } = long.toBody();
    expect(JSON.stringify(error).length).toBeLessThan(1000);
    expect(error.issues![0]!.path).toMatch(/^a+…a+$/);
  });
});

describe('POST /v1/notifications', () => {
  it('answers a body of thousands of unknown fields with 20 issues in a small answer', async () => {
    const payload = JSON.stringify({ ...VALID, ...unknownFields(6000) });
    const res = await ctx.pub.app.inject({
      method: 'POST',
      url: '/v1/notifications',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    expect(res.statusCode).toBe(400);
    const { error } = res.json<ErrorAnswer>();
    expect(error.code).toBe('HERALD_ERR_VALIDATION');
    expect(error.issues).toHaveLength(20);
    expect(error.issues![0]).toEqual({ path: 'k0', message: 'unknown field' });
    expect(error.message).toContain('20 of 6000 issues');
    expect(res.payload.length).toBeLessThan(8 * 1024);
  });
});

describe('POST /v1/notifications/batch', () => {
  it('answers a 1 MiB batch of bad items with no more than its size, naming every item that failed', async () => {
    // 1000 items of about 1 KiB, each with 120 unknown fields and no userId, type or body.
    const payload = JSON.stringify({ notifications: Array.from({ length: 1000 }, () => unknownFields(120)) });
    expect(payload.length).toBeGreaterThan(0.9 * BATCH_BODY_LIMIT);
    expect(payload.length).toBeLessThanOrEqual(BATCH_BODY_LIMIT);
    const res = await postBatch(payload);
    expect(res.statusCode).toBe(400);
    expect(res.payload.length).toBeLessThanOrEqual(payload.length);
    const answer = res.json<ErrorAnswer>();
    expect(answer.error.code).toBe('HERALD_ERR_VALIDATION');
    expect(answer.error.issues!.length).toBeLessThanOrEqual(20);
    expect(answer.error.message).toMatch(/of 123000 issues listed/);
    expect(answer.results).toHaveLength(1000);
    answer.results!.forEach((result, index) => {
      if (!('error' in result)) throw new Error(`item ${index} was not refused`);
      expect(result.error.code).toBe('HERALD_ERR_VALIDATION');
      expect(result.error.message).toContain(`Notification ${index} is invalid`);
      expect(result.error.message).toContain('of 123 issues listed');
      expect(result.error.issues!.length).toBeGreaterThanOrEqual(1);
      expect(result.error.issues!.length).toBeLessThanOrEqual(20);
      expect(result.error.issues![0]!.path).toMatch(new RegExp(`^notifications\\.${index}\\.`));
    });
  });

  it('lists up to 20 issues for each bad item of a small batch', async () => {
    const payload = JSON.stringify({
      notifications: Array.from({ length: 10 }, () => ({ ...VALID, ...unknownFields(30) })),
    });
    const res = await postBatch(payload);
    expect(res.statusCode).toBe(400);
    const answer = res.json<ErrorAnswer>();
    for (const result of answer.results!) {
      if (!('error' in result)) throw new Error('an item was not refused');
      expect(result.error.issues).toHaveLength(20);
      expect(result.error.message).toContain('20 of 30 issues listed');
    }
  });

  it('bounds the results of a batch that is accepted in part (202) the same way', async () => {
    const items: unknown[] = Array.from({ length: 999 }, () => unknownFields(120));
    items.push(VALID);
    const payload = JSON.stringify({ notifications: items });
    const res = await postBatch(payload);
    expect(res.statusCode).toBe(202);
    expect(res.payload.length).toBeLessThanOrEqual(payload.length);
    const { results } = res.json<{ results: ErrorAnswer['results'] }>();
    expect(results![999]).toMatchObject({ status: 'accepted' });
    expect(results!.slice(0, 999).every((r) => 'error' in r && r.error.issues!.length <= 20)).toBe(true);
  });
});
