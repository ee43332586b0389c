import { describe, expect, it } from 'vitest';
import { ConfigError, DeliveryError, parseEnv, type Notification } from '@herald/shared';
import { classifyEmailError } from '../../services/email/src/classify-email-error.js';
import { emailEnv } from '../../services/email/src/config.js';
import { createEmailDriver } from '../../services/email/src/email-driver.js';
import { parseMailbox } from '../../services/email/src/mailbox.js';
import { NOTIFICATION_ID_HEADER, messageIdFor, renderEmail } from '../../services/email/src/render-email.js';

function notification(
  overrides: Partial<Notification> = {},
  payload: Partial<Notification['payload']> = {},
): Notification {
  return {
    v: 1,
    id: '01JABCDEF0123456789XYZABCD',
    userId: 'u1',
    type: 'order.shipped',
    payload: { body: 'Your order is on its way.', ...payload },
    ts: 1,
    ...overrides,
  };
}

const from = parseMailbox('Herald Alerts <alerts@Mail.Example.com>')!;

describe('renderEmail', () => {
  it('uses the title as subject, the body as text, and derives the Message-ID from the id', () => {
    const mail = renderEmail(notification({}, { title: 'Shipped!' }), 'ada@example.org', from);
    expect(mail).toEqual({
      from: { name: 'Herald Alerts', address: 'alerts@Mail.Example.com' },
      to: 'ada@example.org',
      subject: 'Shipped!',
      text: 'Your order is on its way.',
      messageId: '<01JABCDEF0123456789XYZABCD@mail.example.com>',
      headers: { [NOTIFICATION_ID_HEADER]: '01JABCDEF0123456789XYZABCD' },
    });
  });

  it('falls back to the type as subject', () => {
    expect(renderEmail(notification(), 'ada@example.org', from).subject).toBe('order.shipped');
  });

  it('puts the url on its own line after a blank line', () => {
    const mail = renderEmail(notification({}, { url: 'https://shop.example/orders/42' }), 'ada@example.org', from);
    expect(mail.text).toBe('Your order is on its way.\n\nhttps://shop.example/orders/42');
  });

  it('gives the same Message-ID for the same notification, a different one for another', () => {
    const a = renderEmail(notification(), 'ada@example.org', from).messageId;
    expect(renderEmail(notification(), 'bob@example.org', from).messageId).toBe(a);
    expect(renderEmail(notification({ id: 'other' }), 'ada@example.org', from).messageId).not.toBe(a);
  });

  it('keeps Message-IDs valid for ids with colons and odd dots', () => {
    expect(messageIdFor('order:42.v1', 'example.com')).toBe('<order=3A42.v1@example.com>');
    expect(messageIdFor('.a..b.', 'example.com')).toBe('<=2Ea=2E=2Eb=2E@example.com>');
    for (const id of ['a:b', 'a.b', '.ab', 'x-y_z']) {
      expect(messageIdFor(id, 'example.com')).toMatch(
        /^<[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@example\.com>$/,
      );
    }
  });

  it('strips line breaks from the subject and addresses, whatever got into the stream', () => {
    const mail = renderEmail(
      notification({ type: 'x' }, { title: 'Hi\r\nBcc: victim@example.org' }),
      'ada@example.org\r\nBcc: x@y',
      from,
    );
    expect(mail.subject).toBe('Hi Bcc: victim@example.org');
    expect(mail.to).toBe('ada@example.orgBcc: x@y');
    expect(JSON.stringify(mail)).not.toMatch(/\\r|\\n/);
  });
});

describe('EMAIL_FROM', () => {
  it('reads a bare address or Name <address>', () => {
    expect(parseMailbox('alerts@example.com')).toEqual({ address: 'alerts@example.com', domain: 'example.com' });
    expect(parseMailbox('"Example, Inc." <alerts@example.com>')).toEqual({
      name: 'Example, Inc.',
      address: 'alerts@example.com',
      domain: 'example.com',
    });
    expect(parseMailbox('not an address')).toBeUndefined();
    expect(parseMailbox('A <a@example.com>\r\nBcc: x@y')).toBeUndefined();
  });
});

describe('email configuration', () => {
  const services = {} as Parameters<typeof createEmailDriver>[1];

  it('names each missing variable unless it is a dry run', () => {
    const config = parseEnv(emailEnv, { LOG_LEVEL: 'silent' });
    expect(() => createEmailDriver(config, services)).toThrow(ConfigError);
    try {
      createEmailDriver(config, services);
    } catch (err) {
      expect((err as ConfigError).lines).toEqual([
        'SMTP_URL: required, an smtp:// or smtps:// URL',
        'EMAIL_FROM: required, an address or Name <address>',
      ]);
    }
    const dry = createEmailDriver(parseEnv(emailEnv, { HERALD_DRY_RUN: 'true' }), services);
    expect(dry.channel).toBe('email');
  });

  it('refuses a malformed SMTP_URL or EMAIL_FROM, naming it', () => {
    expect(() => parseEnv(emailEnv, { SMTP_URL: 'http://mail.example.com', EMAIL_FROM: 'nobody' })).toThrow(
      'SMTP_URL: expected an smtp:// or smtps:// URL\nEMAIL_FROM: expected an address or Name <address>',
    );
  });

  it('finds the recipient in to.email, else the user', () => {
    const driver = createEmailDriver(parseEnv(emailEnv, { HERALD_DRY_RUN: 'true' }), services);
    const user = { email: 'user@example.org', pushSubscriptions: [] };
    expect(driver.targets(notification(), user)).toEqual([{ key: 'email', address: 'user@example.org' }]);
    expect(driver.targets(notification({ to: { email: 'to@example.org' } }), user)).toEqual([
      { key: 'email', address: 'to@example.org' },
    ]);
    expect(driver.targets(notification(), { pushSubscriptions: [] })).toEqual([]);
  });
});

describe('classifyEmailError', () => {
  const smtpError = (code: string, responseCode?: number) =>
    Object.assign(new Error(`${code} ${responseCode ?? ''}`), { code, ...(responseCode ? { responseCode } : {}) });

  it('counts 4xx replies as transient and 5xx as permanent', () => {
    expect(classifyEmailError(smtpError('EENVELOPE', 450)).kind).toBe('transient');
    expect(classifyEmailError(smtpError('EMESSAGE', 451)).kind).toBe('transient');
    expect(classifyEmailError(smtpError('EENVELOPE', 550)).kind).toBe('permanent');
    expect(classifyEmailError(smtpError('EMESSAGE', 554)).kind).toBe('permanent');
  });

  it('counts 503 (bad sequence) and a refused login as transient', () => {
    expect(classifyEmailError(smtpError('EPROTOCOL', 503)).kind).toBe('transient');
    expect(classifyEmailError(smtpError('EAUTH', 535)).kind).toBe('transient');
  });

  it('counts connection failures and unknown errors as transient', () => {
    for (const code of ['ESOCKET', 'ECONNECTION', 'ETIMEDOUT', 'EDNS', 'ETLS']) {
      expect(classifyEmailError(smtpError(code)).kind).toBe('transient');
    }
    expect(classifyEmailError(new Error('something odd')).kind).toBe('transient');
    expect(classifyEmailError('a string').kind).toBe('transient');
  });

  it('passes a DeliveryError through', () => {
    const err = new DeliveryError('permanent', 'x');
    expect(classifyEmailError(err)).toBe(err);
  });
});
