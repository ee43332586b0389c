import { afterAll, beforeAll } from 'vitest';
import webpush from 'web-push';
import {
  startPushStandIn,
  startSmtpStandIn,
  startTwilioStandIn,
  type PushStandIn,
  type SmtpStandIn,
  type TwilioStandIn,
} from '@herald/stand-ins';
import type { Channel } from '@herald/shared';
import { startPublisher, type TestPublisher } from './publisher.js';
import { startRedis, type TestRedis, type TestRedisOptions } from './redis-server.js';
import { spawnService, type ServiceProcess } from './service-process.js';

/**
 * Everything a delivery test needs, real: a redis-server, the publisher, the three stand-ins
 * (SMTP, Twilio-compatible, HTTPS push) and channel workers as real processes.
 */
export interface TestStack {
  redis: TestRedis;
  pub: TestPublisher;
  smtp: SmtpStandIn;
  twilio: TwilioStandIn;
  push: PushStandIn;
  vapid: { publicKey: string; privateKey: string };
  /** The environment a worker of `channel` runs with (before `extra`). */
  workerEnv(channel: Channel, extra?: Record<string, string>): Record<string, string>;
  /** Start a worker process and wait until it reads. */
  spawnWorker(channel: Channel, extra?: Record<string, string>): Promise<ServiceProcess>;
  /** Start a worker process without waiting for it (a replacement started on a schedule). */
  launchWorker(channel: Channel, extra?: Record<string, string>): ServiceProcess;
  /** SIGKILL every worker still running (for afterEach, so a failed test leaves none behind). */
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

export const TWILIO_FROM = '+15005550006';

let consumerCounter = 0;

export async function startStack(
  publisherEnv: Record<string, string> = {},
  redisOptions: TestRedisOptions = {},
): Promise<TestStack> {
  const redis = await startRedis(redisOptions);
  const vapid = webpush.generateVAPIDKeys();
  const [smtp, twilio, push] = await Promise.all([
    startSmtpStandIn(),
    startTwilioStandIn(),
    startPushStandIn({ vapidPublicKey: vapid.publicKey }),
  ]);
  // No rate limit: the stack's tests publish tens of thousands of notifications from one address.
  const pub = await startPublisher(redis.url, {
    HERALD_ALLOW_PRIVATE_PUSH: 'true',
    VAPID_PUBLIC_KEY: vapid.publicKey,
    HERALD_RATE_LIMIT: '0',
    ...publisherEnv,
  });
  const workers: ServiceProcess[] = [];

  function workerEnv(channel: Channel, extra: Record<string, string> = {}): Record<string, string> {
    const common = {
      REDIS_URL: redis.url,
      HERALD_STREAM: pub.config.HERALD_STREAM,
      HERALD_KEY_PREFIX: pub.config.HERALD_KEY_PREFIX,
      LOG_LEVEL: 'info',
      HERALD_METRICS_PORT: '0',
      HERALD_CONSUMER: `${channel}-${process.pid}-${++consumerCounter}`,
      // Fast retries, so tests about retrying finish quickly.
      HERALD_RETRY_BASE_MS: '100',
      HERALD_RETRY_MAX_MS: '1000',
      HERALD_SEND_TIMEOUT_MS: '5000',
      HERALD_SHUTDOWN_MS: '5000',
    };
    const provider: Record<Channel, Record<string, string>> = {
      email: { SMTP_URL: smtp.url, EMAIL_FROM: 'Herald <notify@herald.test>' },
      sms: {
        TWILIO_ACCOUNT_SID: twilio.accountSid,
        TWILIO_AUTH_TOKEN: twilio.authToken,
        TWILIO_FROM,
        TWILIO_BASE_URL: twilio.baseUrl,
      },
      push: {
        VAPID_PUBLIC_KEY: vapid.publicKey,
        VAPID_PRIVATE_KEY: vapid.privateKey,
        VAPID_SUBJECT: 'mailto:ops@herald.test',
        HERALD_ALLOW_PRIVATE_PUSH: 'true',
        NODE_EXTRA_CA_CERTS: push.caCertPath,
      },
    };
    return { ...common, ...provider[channel], ...extra };
  }

  function launchWorker(channel: Channel, extra?: Record<string, string>): ServiceProcess {
    const worker = spawnService(`services/${channel}/src/main.ts`, workerEnv(channel, extra));
    workers.push(worker);
    return worker;
  }

  async function stopWorkers(): Promise<void> {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    workers.length = 0;
  }

  return {
    redis,
    pub,
    smtp,
    twilio,
    push,
    vapid,
    workerEnv,
    launchWorker,
    async spawnWorker(channel, extra) {
      const worker = launchWorker(channel, extra);
      await worker.waitForOutput('worker started');
      return worker;
    },
    stopWorkers,
    async close() {
      await stopWorkers();
      await pub.close();
      await Promise.all([smtp.close(), twilio.close(), push.close()]);
      await redis.destroy();
    },
  };
}

/**
 * The frame of a test file that shares one stack: started before its tests, closed (workers,
 * publisher, stand-ins, Redis) after them, even when they fail. Read `ctx.stack` inside tests.
 */
export function useStack(
  publisherEnv: Record<string, string> = {},
  redisOptions: TestRedisOptions = {},
): { readonly stack: TestStack } {
  let stack: TestStack | undefined;
  beforeAll(async () => {
    stack = await startStack(publisherEnv, redisOptions);
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });
  return {
    get stack() {
      return stack!;
    },
  };
}
