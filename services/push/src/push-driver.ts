import { existsSync } from 'node:fs';
import webpush from 'web-push';
import {
  ConfigError,
  DeliveryError,
  isPrivateHost,
  isUnambiguousPushEndpoint,
  pushSubscriptionField,
  transportTimeoutMs,
  type ChannelDriver,
  type WorkerServices,
} from '@herald/shared';
import { classifyPushError } from './classify-push-error.js';
import type { PushConfig } from './config.js';
import { createPushAgent, type PushAgentOptions } from './push-agent.js';
import { pushTargetKey } from './push-target-key.js';
import { subscriptionLookup } from './subscription-lookup.js';
import { renderPush } from './render-push.js';
import { vapidKeysMatch } from './vapid-keys.js';

/** Options for a driver in a process that cannot use NODE_EXTRA_CA_CERTS (tests). */
export interface PushDriverOptions {
  /** Extra certificate authorities to trust for push endpoints (PEM), besides Node's own. */
  ca?: string | Buffer;
  /** How endpoint names are resolved; Node's dns.lookup unless given (see PushAgentOptions). */
  lookup?: PushAgentOptions['lookup'];
}

/**
 * The push channel: one encrypted message (aes128gcm) per stored subscription of the user,
 * signed with the VAPID keys; web-push waits twice HERALD_SEND_TIMEOUT_MS (transportTimeoutMs). Endpoints on private
 * addresses are refused unless HERALD_ALLOW_PRIVATE_PUSH (see push-agent.ts). With
 * HERALD_DRY_RUN the VAPID variables may be missing, since nothing is sent.
 */
export function createPushDriver(
  config: PushConfig,
  services: WorkerServices,
  options: PushDriverOptions = {},
): ChannelDriver {
  const problems = configProblems(config);
  if (problems.length > 0 && !config.HERALD_DRY_RUN) throw new ConfigError(problems);

  const vapidDetails =
    problems.length === 0
      ? { subject: config.VAPID_SUBJECT!, publicKey: config.VAPID_PUBLIC_KEY!, privateKey: config.VAPID_PRIVATE_KEY! }
      : undefined;
  const allowPrivate = config.HERALD_ALLOW_PRIVATE_PUSH;
  const agent = createPushAgent({ allowPrivate, ca: options.ca, lookup: options.lookup });
  const { keys } = services;

  return {
    channel: 'push',
    userLookup: subscriptionLookup(keys),
    targets(_n, user) {
      // The newest HERALD_MAX_PUSH_SUBSCRIPTIONS only: a user stored before the cap may hold
      // more, and each one is a connection of its own. Sorted only for such a user: this runs
      // for every entry, and almost every user is within the cap.
      const max = config.HERALD_MAX_PUSH_SUBSCRIPTIONS;
      const all = user.pushSubscriptions ?? [];
      const newest =
        all.length <= max ? all : [...all].sort((a, b) => (b.createdAt || 0) - (a.createdAt || 0)).slice(0, max);
      return newest.map((subscription) => ({
        key: pushTargetKey(subscription.endpoint),
        address: subscription.endpoint,
        subscription,
      }));
    },
    async send(n, target) {
      if (!vapidDetails)
        throw new DeliveryError(
          'permanent',
          'push is not configured (dry run): the VAPID_* variables are required to send',
        );
      const subscription = target.subscription;
      if (!subscription) throw new DeliveryError('permanent', `push target ${target.key} has no subscription`);
      checkEndpoint(subscription.endpoint, allowPrivate);
      const message = renderPush(n, { now: Date.now(), defaultTtlS: config.HERALD_PUSH_TTL_S });
      // Not raced against the signal: the runtime stops waiting on its own and records the real answer.
      const result = await webpush.sendNotification(
        { endpoint: subscription.endpoint, keys: subscription.keys },
        message.payload,
        {
          TTL: message.TTL,
          topic: message.topic,
          contentEncoding: 'aes128gcm',
          timeout: transportTimeoutMs(config.HERALD_SEND_TIMEOUT_MS),
          vapidDetails,
          agent,
        },
      );
      // Typed as a string; Node gives some headers as arrays, so both are read.
      const location = result.headers['location'] as string | string[] | undefined;
      const providerId = Array.isArray(location) ? location[0] : location;
      return providerId ? { providerId } : {};
    },
    classify: classifyPushError,
    // The push service said the subscription is gone (404, 410): remove it.
    forgetTarget(pipeline, n, target) {
      pipeline.hdel(keys.pushSubscriptions(n.userId), pushSubscriptionField(target.address));
    },
    async close() {
      agent.destroy();
    },
  };
}

/** What the configuration lacks for sending; a dry run may do without the VAPID variables. */
function configProblems(config: PushConfig): string[] {
  const problems: string[] = [];
  // Node reads NODE_EXTRA_CA_CERTS once, at start, and only warns when the file is missing: then
  // every push to that authority would fail. Better to stop and be restarted once it is there
  // (docker-compose's local profile starts the worker before the stand-ins have written it).
  const extraCa = process.env.NODE_EXTRA_CA_CERTS;
  if (extraCa && !existsSync(extraCa)) problems.push(`NODE_EXTRA_CA_CERTS: ${extraCa} does not exist (yet)`);
  if (!config.VAPID_PUBLIC_KEY) problems.push('VAPID_PUBLIC_KEY: required, a base64url P-256 public key');
  if (!config.VAPID_PRIVATE_KEY) problems.push('VAPID_PRIVATE_KEY: required, a base64url P-256 private key');
  else if (config.VAPID_PUBLIC_KEY && !vapidKeysMatch(config.VAPID_PUBLIC_KEY, config.VAPID_PRIVATE_KEY)) {
    problems.push('VAPID_PRIVATE_KEY: does not belong to VAPID_PUBLIC_KEY');
  }
  if (!config.VAPID_SUBJECT) problems.push('VAPID_SUBJECT: required, a mailto: or https: URL');
  return problems;
}

/**
 * Refuse before sending what the checks at subscribe refuse, for subscriptions stored before
 * them: a non-https endpoint; a host that the legacy url.parse web-push uses reads otherwise
 * than the WHATWG URL (issue 12; the agent checks where it connects in any case); and a host
 * that is private by its name alone (an IP literal in a private range, `localhost`). Only the
 * endpoint's origin is named: its path is the subscription's secret.
 */
function checkEndpoint(endpoint: string, allowPrivate: boolean): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new DeliveryError('permanent', 'push endpoint is not a URL; refused');
  }
  if (url.protocol !== 'https:')
    throw new DeliveryError('permanent', `push endpoint ${url.origin} is not https; refused`);
  if (!isUnambiguousPushEndpoint(endpoint)) {
    throw new DeliveryError(
      'permanent',
      `push endpoint ${url.origin} has a host that URL parsers read differently; refused`,
    );
  }
  if (!allowPrivate && isPrivateHost(url.hostname)) {
    throw new DeliveryError(
      'permanent',
      `push endpoint ${url.origin} is a private address; refused (HERALD_ALLOW_PRIVATE_PUSH is off)`,
    );
  }
}
