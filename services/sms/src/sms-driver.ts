import twilio from 'twilio';
import {
  ConfigError,
  DeliveryError,
  transportTimeoutMs,
  type ChannelDriver,
  type WorkerServices,
} from '@herald/shared';
import { classifySmsError } from './classify-sms-error.js';
import type { SmsConfig } from './config.js';
import { createRateLimiter, type RateLimiter } from './rate-limiter.js';
import { renderSms } from './render-sms.js';
import { HeraldTwilioClient } from './twilio-request-client.js';

/**
 * The SMS channel: one message per notification to `to.phone`, else the user's number,
 * through Twilio's Messages API (or TWILIO_BASE_URL). Sent from TWILIO_MESSAGING_SERVICE_SID
 * when set, else from TWILIO_FROM. With HERALD_RATE_PER_S, sends wait for a per-second budget
 * shared by all replicas in Redis. With HERALD_DRY_RUN the Twilio variables may be missing,
 * since nothing is sent.
 */
export function createSmsDriver(config: SmsConfig, services: WorkerServices): ChannelDriver {
  const problems: string[] = [];
  if (!config.TWILIO_ACCOUNT_SID) problems.push('TWILIO_ACCOUNT_SID: required, an account SID starting with AC');
  if (!config.TWILIO_AUTH_TOKEN) problems.push("TWILIO_AUTH_TOKEN: required, the account's auth token");
  if (!config.TWILIO_FROM && !config.TWILIO_MESSAGING_SERVICE_SID) {
    problems.push('TWILIO_FROM: required (an E.164 number) unless TWILIO_MESSAGING_SERVICE_SID is set');
  }
  if (problems.length > 0 && !config.HERALD_DRY_RUN) throw new ConfigError(problems);

  const httpClient = new HeraldTwilioClient({
    baseUrl: config.TWILIO_BASE_URL,
    timeoutMs: transportTimeoutMs(config.HERALD_SEND_TIMEOUT_MS),
  });
  const client =
    problems.length === 0 ? twilio(config.TWILIO_ACCOUNT_SID, config.TWILIO_AUTH_TOKEN, { httpClient }) : undefined;
  const sender = config.TWILIO_MESSAGING_SERVICE_SID
    ? { messagingServiceSid: config.TWILIO_MESSAGING_SERVICE_SID }
    : { from: config.TWILIO_FROM };
  const limiter: RateLimiter | undefined =
    config.HERALD_RATE_PER_S > 0 ? createRateLimiter(services.scripts, 'sms', config.HERALD_RATE_PER_S) : undefined;

  return {
    channel: 'sms',
    targets(n, user) {
      const phone = n.to?.phone ?? user.phone;
      return phone ? [{ key: 'sms', address: phone }] : [];
    },
    async send(n, target) {
      if (!client)
        throw new DeliveryError(
          'permanent',
          'SMS is not configured (dry run): the TWILIO_* variables are required to send',
        );
      const body = renderSms(n);
      // Not raced against the signal: the runtime stops waiting on its own and records the real answer.
      const message = await client.messages.create({ to: target.address, body, ...sender });
      return { providerId: message.sid };
    },
    ...(limiter ? { throttle: (signal: AbortSignal) => limiter.take(signal) } : {}),
    classify: classifySmsError,
    async close() {
      httpClient.close();
    },
  };
}
