import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, EntryDecodeError, type Notification } from '@herald/shared';

const full: Notification = {
  v: 1,
  id: 'n-1',
  userId: 'u-1',
  type: 'order.shipped',
  payload: { title: 'Shipped', body: 'Your order is on its way', url: 'https://shop.example/o/1', data: { order: 1 } },
  channels: ['email', 'push'],
  to: { email: 'ada@example.com', phone: '+14155550123' },
  expiresAt: 1_900_000_000_000,
  ts: 1_800_000_000_000,
};

function fields(record: Record<string, string>): string[] {
  return Object.entries(record).flat();
}

const minimal = { v: '1', id: 'n-2', userId: 'u', type: 'otp', payload: '{"body":"hi"}', ts: '1800000000000' };

describe('stream-entry codec', () => {
  it('round-trips a notification with every field, and one with only the required ones', () => {
    expect(decodeEntry(encodeEntry(full))).toEqual({ ok: true, notification: full });
    const bare: Notification = { v: 1, id: 'n', userId: 'u', type: 'otp', payload: { body: 'x' }, ts: 1 };
    expect(decodeEntry(encodeEntry(bare))).toEqual({ ok: true, notification: bare });
  });

  it('decodes an entry written by another producer, ignoring fields it does not know', () => {
    const result = decodeEntry(fields({ ...minimal, channels: 'sms, email', extra: 'ignored' }));
    expect(result).toEqual({
      ok: true,
      notification: {
        v: 1,
        id: 'n-2',
        userId: 'u',
        type: 'otp',
        payload: { body: 'hi' },
        channels: ['sms', 'email'],
        ts: 1_800_000_000_000,
      },
    });
  });

  it.each([
    ['missing body', { payload: '{"title":"t"}' }, 'payload.body'],
    ['payload not JSON', { payload: '{oops' }, 'payload'],
    ['wrong version', { v: '2' }, 'v'],
    ['unknown channel', { channels: 'email,fax' }, 'channels'],
    ['ts not a number', { ts: 'yesterday' }, 'ts'],
    ['expiresAt not a number', { expiresAt: '12abc' }, 'expiresAt'],
    ['bad recipient', { to: '{"email":"not-an-address"}' }, 'to.email'],
    ['header injection in the title', { payload: '{"body":"b","title":"Hi\\r\\nBcc: x@y.z"}' }, 'payload.title'],
    ['oversized body', { payload: JSON.stringify({ body: 'x'.repeat(1_000_000) }) }, 'payload.body'],
    ['bad id', { id: 'spaces are not allowed' }, 'id'],
  ])('gives a typed error naming the field for %s', (_name, change, field) => {
    const result = decodeEntry(fields({ ...minimal, ...change }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(EntryDecodeError);
    expect(result.error.reason).toBe('malformed');
    expect(result.error.field).toBe(field);
  });

  it('keeps the id and user of a malformed entry when they are readable, for its status and dead letter', () => {
    const result = decodeEntry(fields({ ...minimal, payload: 'nope' }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect([result.error.id, result.error.userId]).toEqual(['n-2', 'u']);
  });

  it('never throws on garbage: missing fields, odd lists, duplicates, null', () => {
    const garbage: unknown[] = [null, undefined, [], ['v'], ['v', '1', 'v', '1'], fields({ v: '1' }), [1, 2, 3, 4]];
    for (const input of garbage) {
      const result = decodeEntry(input as string[]);
      expect(result.ok).toBe(false);
    }
  });
});
