import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHANNELS, DEFAULT_METRICS_PORTS, type Channel } from '@herald/shared';
import { loadOrCreateVapidKeys, startLocalStandIns, type LocalStandIns } from '@herald/stand-ins';
import { NoRedisError, localRedis, portOrFree } from './local-redis.js';
import { loadLocalConfig } from './config.js';
import { Supervisor } from './supervisor.js';

/**
 * `npm start` at the root: the whole system on this machine. Redis (REDIS_URL, else one on
 * 6379, else a redis-server it starts), the real providers where their credentials are set and
 * the local stand-ins where not, the publisher, and HERALD_REPLICAS_EMAIL / _SMS / _PUSH replicas
 * of each worker (default 1). Ctrl+C stops everything.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Kept state (VAPID keys, the Redis it starts): `.herald/`, or HERALD_STATE_DIR. */
const config = loadLocalConfig();
const stateDir = config.HERALD_STATE_DIR ?? join(root, '.herald');
const out = (line: string) => process.stdout.write(`${line}\n`);

let redis;
try {
  redis = await localRedis(config, stateDir);
} catch (err) {
  if (err instanceof NoRedisError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}

/** A channel uses its real provider when that provider's credentials are set. */
const real: Record<Channel, boolean> = {
  email: !!config.SMTP_URL,
  sms: !!config.TWILIO_ACCOUNT_SID,
  push: !!config.VAPID_PRIVATE_KEY,
};
const vapid = real.push ? undefined : loadOrCreateVapidKeys(stateDir);
const standIns: LocalStandIns | undefined = CHANNELS.every((c) => real[c])
  ? undefined
  : await startLocalStandIns({ vapid: vapid! });

const port = config.PORT;
const host = config.HOST;
// Every service reads its own variables from the same environment.
const base: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redis.url };
const channelEnv = (c: Channel) => (real[c] || !standIns ? {} : standIns.env[c]);
const publisherUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

// The stand-ins' outbox, for the dashboard (the publisher fetches it from here).
let outboxUrl: string | undefined;
if (standIns) {
  const server = createServer((request, response) => {
    if (request.url !== '/outbox') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(standIns.outbox()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  outboxUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/outbox`;
}

const supervisor = new Supervisor(root, out);
supervisor.start('publisher', 'publisher', {
  ...base,
  PORT: String(port),
  HOST: host,
  ...(vapid ? { VAPID_PUBLIC_KEY: vapid.publicKey } : {}),
  ...(standIns && !real.push ? { HERALD_ALLOW_PRIVATE_PUSH: 'true' } : {}),
  ...(outboxUrl ? { HERALD_OUTBOX_URL: outboxUrl } : {}),
});
const metricsUrls: string[] = [];
const REPLICAS: Record<Channel, number> = {
  email: config.HERALD_REPLICAS_EMAIL,
  sms: config.HERALD_REPLICAS_SMS,
  push: config.HERALD_REPLICAS_PUSH,
};
for (const channel of CHANNELS) {
  const replicas = REPLICAS[channel];
  for (let i = 1; i <= replicas; i++) {
    // Replicas on one host each need their own consumer name and metrics port: the channel's
    // default for the first (9101 email, 9102 sms, 9103 push), +10 for each next, or a free one.
    const metricsPort = await portOrFree(DEFAULT_METRICS_PORTS[channel] + (i - 1) * 10);
    metricsUrls.push(`${channel}-${i}: http://127.0.0.1:${metricsPort}/metrics`);
    supervisor.start(`${channel}-${i}`, channel, {
      ...base,
      ...channelEnv(channel),
      HERALD_CONSUMER: `${hostname()}-${channel}-${i}`,
      HERALD_METRICS_PORT: String(metricsPort),
    });
  }
}

const key = (config.HERALD_ADMIN_KEYS ?? config.HERALD_API_KEYS ?? '').split(',')[0]?.trim();
const headers: Record<string, string> = {
  'content-type': 'application/json',
  ...(key ? { authorization: `Bearer ${key}` } : {}),
};

/** A demo user whose address, number and push subscription all reach the stand-ins. */
async function createDemoUser(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ready = await fetch(`${publisherUrl}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await fetch(`${publisherUrl}/v1/users/demo`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ email: 'demo@herald.localhost', phone: '+15555550100' }),
  });
  if (standIns && !real.push) {
    await fetch(`${publisherUrl}/v1/users/demo/push-subscriptions`, {
      method: 'POST',
      headers,
      body: JSON.stringify(standIns.push.createSubscription()),
    });
  }
}
await createDemoUser().catch((err: unknown) => out(`could not create the demo user: ${(err as Error).message}`));

const auth = key ? ` -H 'authorization: Bearer ${key}'` : '';
out(
  [
    '',
    '──────────────── Herald is running ────────────────',
    `  Publisher   ${publisherUrl}   (health ${publisherUrl}/healthz, metrics ${publisherUrl}/metrics)`,
    `  Dashboard   ${publisherUrl}/dashboard   Push demo ${publisherUrl}/demo/`,
    `  Redis       ${redis.url}   (${redis.how})`,
    ...CHANNELS.map((c) => {
      const url = { email: standIns?.smtp.url, sms: standIns?.twilio.baseUrl, push: standIns?.push.origin }[c];
      return `  ${c.padEnd(10)}  ${real[c] ? 'real provider' : `stand-in${url === undefined ? '' : ` (${url})`}`}`;
    }),
    `  Worker metrics: ${metricsUrls.join(', ')}`,
    '',
    '  Send a first notification to the demo user (email, SMS and push):',
    `  curl -s -X POST ${publisherUrl}/v1/notifications -H 'content-type: application/json'${auth}` +
      ` -d '{"userId":"demo","type":"welcome","title":"Hello","body":"It works"}'`,
    '',
    '  Ctrl+C stops everything.',
    '─────────────────────────────────────────────────────',
    '',
  ].join('\n'),
);
const stopWatching = standIns?.watch((line) => out(`[stand-ins]  ${line}`));

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    out('stopping...');
    stopWatching?.();
    void (async () => {
      await supervisor.stopAll(config.HERALD_SHUTDOWN_MS + 2000);
      await standIns?.close();
      await redis.stop();
      out('stopped');
      process.exit(0);
    })();
  });
}
