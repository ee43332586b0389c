import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { ConfigError, DeliveryError, parseEnv, type Notification } from '@herald/shared';
import { classifySmsError } from '../../services/sms/src/classify-sms-error.js';
import { smsEnv } from '../../services/sms/src/config.js';
import { SMS_MAX_CHARS, renderSms } from '../../services/sms/src/render-sms.js';
import { parseRetryAfter } from '@herald/shared';
import { createSmsDriver } from '../../services/sms/src/sms-driver.js';
import { HeraldTwilioClient } from '../../services/sms/src/twilio-request-client.js';

function notification(
  payload: Partial<Notification['payload']> = {},
  overrides: Partial<Notification> = {},
): Notification {
  return {
    v: 1,
    id: 'n1',
    userId: 'u1',
    type: 'otp',
    payload: { body: 'Your code is 123456', ...payload },
    ts: 1,
    ...overrides,
  };
}

describe('renderSms', () => {
  it('puts the title on a line before the body, or sends the body alone', () => {
    expect(renderSms(notification({ title: 'Sign-in' }))).toBe('Sign-in\nYour code is 123456');
    expect(renderSms(notification())).toBe('Your code is 123456');
  });

  it('keeps text of exactly 1600 characters whole', () => {
    const body = 'x'.repeat(SMS_MAX_CHARS);
    expect(renderSms(notification({ body }))).toBe(body);
  });

  it('shortens longer text to 1600 characters ending in an ellipsis', () => {
    const text = renderSms(notification({ title: 'T', body: 'y'.repeat(4000) }));
    expect(text).toHaveLength(1600);
    expect(text.endsWith('y…')).toBe(true);
    expect(text.startsWith('T\ny')).toBe(true);
  });

  it('never splits a surrogate pair', () => {
    const text = renderSms(notification({ body: `a${'😀'.repeat(1000)}` }));
    expect(text.length).toBeLessThanOrEqual(SMS_MAX_CHARS);
    expect(text.endsWith('😀…')).toBe(true);
    expect(text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe('sms configuration', () => {
  const services = {} as Parameters<typeof createSmsDriver>[1];

  it('names each missing variable unless it is a dry run', () => {
    let error: unknown;
    try {
      createSmsDriver(parseEnv(smsEnv, {}), services);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).lines).toEqual([
      'TWILIO_ACCOUNT_SID: required, an account SID starting with AC',
      "TWILIO_AUTH_TOKEN: required, the account's auth token",
      'TWILIO_FROM: required (an E.164 number) unless TWILIO_MESSAGING_SERVICE_SID is set',
    ]);
    expect(createSmsDriver(parseEnv(smsEnv, { HERALD_DRY_RUN: 'true' }), services).channel).toBe('sms');
  });

  it('refuses malformed values, naming them', () => {
    expect(() =>
      parseEnv(smsEnv, {
        TWILIO_ACCOUNT_SID: 'XX123',
        TWILIO_FROM: '0415',
        TWILIO_MESSAGING_SERVICE_SID: 'AB1',
        TWILIO_BASE_URL: 'ftp://x',
      }),
    ).toThrow(
      [
        'TWILIO_ACCOUNT_SID: expected an account SID starting with AC',
        'TWILIO_FROM: expected a phone number in E.164 form, such as +14155550123',
        'TWILIO_MESSAGING_SERVICE_SID: expected a Messaging Service SID starting with MG',
        'TWILIO_BASE_URL: expected an http:// or https:// URL',
      ].join('\n'),
    );
  });

  it('finds the recipient in to.phone, else the user', () => {
    const driver = createSmsDriver(parseEnv(smsEnv, { HERALD_DRY_RUN: 'true' }), services);
    const user = { phone: '+14155550100', pushSubscriptions: [] };
    expect(driver.targets(notification(), user)).toEqual([{ key: 'sms', address: '+14155550100' }]);
    expect(driver.targets(notification({}, { to: { phone: '+14155550199' } }), user)).toEqual([
      { key: 'sms', address: '+14155550199' },
    ]);
    expect(driver.targets(notification(), { pushSubscriptions: [] })).toEqual([]);
  });

  it('rewrites the API origin to TWILIO_BASE_URL, keeping a path prefix', () => {
    const uri = 'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json';
    expect(new HeraldTwilioClient({ baseUrl: 'http://127.0.0.1:4010/twilio/', timeoutMs: 1000 }).rewrite(uri)).toBe(
      'http://127.0.0.1:4010/twilio/2010-04-01/Accounts/AC1/Messages.json',
    );
    expect(new HeraldTwilioClient({ timeoutMs: 1000 }).rewrite(uri)).toBe(uri);
  });
});

describe('classifySmsError', () => {
  const rest = (status: number, code?: number) =>
    new twilio.RestException({ statusCode: status, body: { code, message: `m${status}` } });

  it('counts 429, 5xx and a refused login as transient', () => {
    expect(classifySmsError(rest(429, 20429)).kind).toBe('transient');
    expect(classifySmsError(rest(500)).kind).toBe('transient');
    expect(classifySmsError(rest(503)).kind).toBe('transient');
    expect(classifySmsError(rest(401, 20003)).kind).toBe('transient');
  });

  it('counts other 4xx as permanent', () => {
    expect(classifySmsError(rest(400, 21211)).kind).toBe('permanent');
    expect(classifySmsError(rest(400, 21610)).kind).toBe('permanent');
    expect(classifySmsError(rest(404, 20404)).kind).toBe('permanent');
  });

  it('counts network errors and unknown errors as transient', () => {
    for (const code of ['ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'ECONNRESET']) {
      expect(classifySmsError(Object.assign(new Error(code), { code })).kind).toBe('transient');
    }
    expect(classifySmsError(new Error('odd')).kind).toBe('transient');
  });

  it('passes a DeliveryError (such as a 429 with Retry-After) through', () => {
    const err = new DeliveryError('transient', '429', 5000);
    expect(classifySmsError(err)).toBe(err);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(['3'])).toBe(3000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:29:00 GMT'))).toBe(0);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
