import { describe, expect, it } from 'vitest';
import { redactContactData } from '@herald/shared';

describe('redactContactData', () => {
  it('masks email addresses and phone numbers by their shape', () => {
    expect(redactContactData('550 <ada@example.com>: no such user')).toBe('550 <[email]>: no such user');
    expect(redactContactData("The 'To' number +14155550123 is not valid")).toBe(
      "The 'To' number [number] is not valid",
    );
  });

  it('masks short E.164 numbers, which look like no phone number to the shape', () => {
    // E.164 allows `+` and 2 to 15 digits; Twilio quotes what it was given.
    expect(redactContactData("The 'To' number +3596071 is not a valid phone number.")).toBe(
      "The 'To' number [number] is not a valid phone number.",
    );
    expect(redactContactData('to +12 refused')).toBe('to [number] refused');
  });

  it('masks the recipients it is given wherever they appear, also URL-encoded', () => {
    const endpoint = 'https://push.example.net/send/abc123-secret';
    expect(redactContactData(`Received unexpected response code 410 from ${endpoint}`, [endpoint])).toBe(
      'Received unexpected response code 410 from [recipient]',
    );
    expect(redactContactData('POST To=%2B3596071 refused', ['+3596071'])).toBe('POST To=[recipient] refused');
  });

  it('keeps a message that names no one as it is, and cuts a long one', () => {
    expect(redactContactData('Twilio answered 429: too many requests')).toBe('Twilio answered 429: too many requests');
    // Erring on the side of masking: a run of 8 digits and separators may be a number in any format.
    expect(redactContactData('connect ECONNREFUSED 127.0.0.1:2525')).toBe('connect ECONNREFUSED [number]:2525');
    expect(redactContactData('x'.repeat(600))).toHaveLength(500);
  });
});
