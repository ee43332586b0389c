import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@herald/shared';

/**
 * The logger's own redaction, field by field: today no log call passes contact data or keys in
 * these fields (test/hostile/log-redaction.test.ts checks what the services really write), so
 * only this test would notice the redaction paths going missing before a future call did.
 */
function capture(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { logger: createLogger('test', 'trace', sink), text: () => text };
}

describe('createLogger', () => {
  it('removes contact data, keys and credentials from the fields that carry them', () => {
    const { logger, text } = capture();
    logger.info(
      {
        id: 'n-1',
        email: 'top.level@example.com',
        phone: '+14155550101',
        to: { email: 'override@example.com', phone: '+14155550102' },
        user: { email: 'nested@example.com', phone: '+14155550103', to: { phone: '+14155550104' } },
        keys: { p256dh: 'p256dh-secret-value', auth: 'auth-secret-value' },
        subscription: { keys: { p256dh: 'nested-p256dh-secret', auth: 'nested-auth-secret' } },
        req: { headers: { authorization: 'Bearer key-secret-1', cookie: 'herald_session=cookie-secret' } },
        headers: { authorization: 'Bearer key-secret-2' },
        authorization: 'Bearer key-secret-3',
        password: 'password-secret-1',
        smtp: { password: 'password-secret-2' },
      },
      'a line with everything',
    );
    const line = text();
    for (const secret of [
      'top.level@',
      'override@',
      'nested@',
      '+14155550101',
      '+14155550102',
      '+14155550103',
      '+14155550104',
      'p256dh-secret-value',
      'auth-secret-value',
      'nested-p256dh-secret',
      'nested-auth-secret',
      'key-secret-1',
      'cookie-secret',
      'key-secret-2',
      'key-secret-3',
      'password-secret-1',
      'password-secret-2',
    ]) {
      expect(line, secret).not.toContain(secret);
    }
    // What a reader needs stays: the ids and the message.
    expect(JSON.parse(line)).toMatchObject({
      id: 'n-1',
      msg: 'a line with everything',
      email: '[redacted]',
      to: '[redacted]',
    });
  });

  it('logs a failed Redis command by its name, without its arguments', () => {
    const { logger, text } = capture();
    const err = Object.assign(new Error('OOM command not allowed'), {
      command: { name: 'hset', args: ['herald:{u:ada}', 'email', 'ada@example.com'] },
    });
    logger.error({ err }, 'write failed');
    const logged = JSON.parse(text()) as { err: { message: string; command: unknown } };
    expect(logged.err.message).toBe('OOM command not allowed');
    expect(logged.err.command).toEqual({ name: 'hset', args: '[redacted]' });
    expect(text()).not.toContain('ada@example.com');
  });
});
