import { spawn, type ChildProcess } from 'node:child_process';
import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startPublisher, type TestPublisher } from '../helpers/publisher.js';
import { ROOT } from '../helpers/service-process.js';
import { waitFor } from '../helpers/wait-for.js';

let redisServer: TestRedis;
let pub: TestPublisher;

beforeAll(async () => {
  redisServer = await startRedis();
});
afterAll(async () => {
  await redisServer.destroy();
});
const TOKEN_SECRET = 'a-user-token-secret-of-32-chars-at-least';
const KEYS = { HERALD_API_KEYS: 'pk1,pk2', HERALD_ADMIN_KEYS: 'ak1', HERALD_USER_TOKEN_SECRETS: TOKEN_SECRET };

function p256dhKey(): string {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return ecdh.getPublicKey().toString('base64url');
}

function browserSubscription(endpoint = 'https://push.example.com/abc') {
  return { endpoint, expirationTime: null, keys: { p256dh: p256dhKey(), auth: randomBytes(16).toString('base64url') } };
}

const valid = { userId: 'u', type: 'otp', body: 'Your code is 123456' };
const ENDPOINT = 'https://push.example.com/abc';

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
interface Route {
  method: Method;
  url: string;
  body?: unknown;
}

/**
 * What each route of the app needs, and a request it would accept. The matrix below takes the
 * routes from the app itself (Fastify's onRoute), and the first test fails on a route missing
 * here: a new route cannot be left out of the auth tests.
 */
const ROUTE_TABLE: Record<
  string,
  { role: 'public' | 'publish' | 'admin'; url?: string; body?: unknown; userToken?: true }
> = {
  'GET /healthz': { role: 'public' },
  'GET /readyz': { role: 'public' },
  'GET /metrics': { role: 'public' },
  'POST /v1/notifications': { role: 'publish', body: valid },
  'POST /v1/notifications/batch': { role: 'publish', body: { notifications: [valid] } },
  'GET /v1/notifications': { role: 'admin' },
  'GET /v1/notifications/:id': { role: 'publish' },
  'PUT /v1/users/:userId': { role: 'publish', body: { email: 'u@example.com' } },
  'GET /v1/users/:userId': { role: 'publish' },
  'DELETE /v1/users/:userId': { role: 'admin' },
  'POST /v1/users/:userId/tokens': { role: 'publish' },
  'POST /v1/users/:userId/push-subscriptions': { role: 'publish', body: browserSubscription(), userToken: true },
  'DELETE /v1/users/:userId/push-subscriptions': {
    role: 'publish',
    url: `/v1/users/u/push-subscriptions?endpoint=${encodeURIComponent(ENDPOINT)}`,
    userToken: true,
  },
  'GET /v1/push/vapid-public-key': { role: 'publish', userToken: true },
  'GET /v1/groups': { role: 'admin' },
  'POST /v1/groups/:channel/replay': { role: 'admin', body: { from: '0' } },
  'GET /v1/dead-letters': { role: 'admin' },
  'POST /v1/dead-letters/:dlqId/redrive': { role: 'admin' },
  'DELETE /v1/dead-letters/:dlqId': { role: 'admin' },
  // An invalid start answers 400 once past the key check; a valid one would stream for ever.
  'GET /v1/stream': { role: 'admin', url: '/v1/stream?from=not-an-id' },
  'GET /dashboard': { role: 'public' },
  'GET /dashboard/app.js': { role: 'public' },
  'GET /dashboard/session': { role: 'public' },
  'POST /dashboard/session': { role: 'public', body: { key: 'ak1' } },
  'DELETE /dashboard/session': { role: 'public' },
  'GET /dashboard/outbox': { role: 'admin' },
  'GET /demo': { role: 'public' },
  'GET /demo/': { role: 'public' },
  'GET /demo/app.js': { role: 'public' },
  'GET /demo/sw.js': { role: 'public' },
};

const PARAMS: Record<string, string> = { userId: 'u', id: 'x', channel: 'email', dlqId: '1-0' };

/** Every route the app registers (HEAD ones included, using their GET's entry), as a request. */
function appRoutes(): (Route & { role: 'public' | 'publish' | 'admin'; userToken: boolean; label: string })[] {
  return pub.routes.map((route) => {
    const method = String(route.method) as Method;
    const entry = ROUTE_TABLE[`${method === 'HEAD' ? 'GET' : method} ${route.url}`];
    if (!entry)
      throw new Error(
        `${method} ${route.url} is not in ROUTE_TABLE: say which key it needs and give a request it accepts`,
      );
    const url = entry.url ?? route.url.replace(/:([A-Za-z]+)/g, (_m, name: string) => PARAMS[name]!);
    return {
      method,
      url,
      role: entry.role,
      userToken: entry.userToken === true,
      label: `${method} ${route.url}`,
      ...(entry.body !== undefined && method !== 'HEAD' ? { body: entry.body } : {}),
    };
  });
}

function call(route: Route, authorization?: string) {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  if (route.body !== undefined) headers['content-type'] = 'application/json';
  return pub.app.inject({
    method: route.method,
    url: route.url,
    headers,
    ...(route.body !== undefined ? { payload: JSON.stringify(route.body) } : {}),
  });
}

/** Every key this publisher wrote (its stream and everything under its prefix but request budgets). */
async function writtenKeys(): Promise<string[]> {
  // Less the rate limit's budgets (public routes count per client address) and the dashboard
  // sessions that the public sign-in route makes from its admin key.
  const budget = pub.keys.requestBudget('');
  const session = pub.keys.dashboardSession('');
  const keys = (await pub.admin.keys(`${pub.config.HERALD_KEY_PREFIX}*`)).filter(
    (k) => !k.startsWith(budget) && !k.startsWith(session),
  );
  if (await pub.admin.exists(pub.keys.stream)) keys.push(pub.keys.stream);
  return keys;
}

/**
 * Use every publish route once with `authorization` (undefined: no header) and check each
 * does its work; `tag` keeps the ids of several runs apart.
 */
async function exercisePublishRoutes(authorization: string | undefined, tag: string) {
  const json = { 'content-type': 'application/json' };
  const auth: Record<string, string> = authorization ? { authorization } : {};
  const inject = (method: Method, url: string, body?: unknown) =>
    pub.app.inject({
      method,
      url,
      headers: body === undefined ? auth : { ...auth, ...json },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
  const userId = `user-${tag}`;

  const published = await inject('POST', '/v1/notifications', { ...valid, id: `n-${tag}` });
  expect(published.statusCode).toBe(202);
  const batch = await inject('POST', '/v1/notifications/batch', { notifications: [valid, valid] });
  expect(batch.statusCode).toBe(202);
  const status = await inject('GET', `/v1/notifications/n-${tag}`);
  expect(status.statusCode).toBe(200);
  expect(status.json()).toMatchObject({ id: `n-${tag}`, streamId: published.json().streamId });
  const putUser = await inject('PUT', `/v1/users/${userId}`, { email: 'u@example.com' });
  expect(putUser.statusCode).toBe(200);
  const added = await inject('POST', `/v1/users/${userId}/push-subscriptions`, browserSubscription());
  expect(added.statusCode).toBe(201);
  const user = await inject('GET', `/v1/users/${userId}`);
  expect(user.statusCode).toBe(200);
  expect(user.json()).toMatchObject({ userId, email: 'u@example.com', pushSubscriptions: [{ endpoint: ENDPOINT }] });
  const removed = await inject(
    'DELETE',
    `/v1/users/${userId}/push-subscriptions?endpoint=${encodeURIComponent(ENDPOINT)}`,
  );
  expect(removed.statusCode).toBe(204);
  const vapid = await inject('GET', '/v1/push/vapid-public-key');
  expect(vapid.statusCode).toBe(200);
  const unknown = await inject('GET', '/v1/no-such-route');
  expect(unknown.statusCode).toBe(404);
  expect(unknown.json().error.code).toBe('HERALD_ERR_NOT_FOUND');
}

describe('with HERALD_API_KEYS=pk1,pk2 and HERALD_ADMIN_KEYS=ak1', () => {
  const vapidKey = p256dhKey();
  beforeEach(async () => {
    pub = await startPublisher(redisServer.url, { ...KEYS, VAPID_PUBLIC_KEY: vapidKey });
  });
  afterEach(async () => {
    await pub.close();
  });

  const BAD_HEADERS: [string, string | undefined][] = [
    ['no Authorization', undefined],
    ['Basic credentials', 'Basic xxx'],
    ['Basic credentials of a valid key', `Basic ${Buffer.from('pk1:').toString('base64')}`],
    ['Bearer alone', 'Bearer'],
    ['Bearer and a space', 'Bearer '],
    ['the key without a scheme', 'pk1'],
    ['an unknown key', 'Bearer nope'],
    ['a key that extends a valid one', 'Bearer pk1x'],
    ['a prefix of a valid key', 'Bearer pk'],
    ['two keys', 'Bearer pk1 pk2'],
    ['an empty header', ''],
  ];

  it('ROUTE_TABLE names every route the app registers, and nothing else', () => {
    const registered = new Set(
      pub.routes.filter((r) => r.method !== 'HEAD').map((r) => `${String(r.method)} ${r.url}`),
    );
    expect([...registered].sort()).toEqual(Object.keys(ROUTE_TABLE).sort());
    expect(appRoutes().length).toBeGreaterThan(Object.keys(ROUTE_TABLE).length);
  });

  describe.each(BAD_HEADERS)('with %s', (_name, header) => {
    it('every route that needs a key answers 401 HERALD_ERR_UNAUTHORIZED and does nothing; public ones answer', async () => {
      for (const route of [
        ...appRoutes(),
        { method: 'GET' as const, url: '/v1/no-such-route', role: 'publish' as const, label: 'an unknown route' },
      ]) {
        const res = await call(route, header);
        if (route.role === 'public') {
          expect([401, 403], route.label).not.toContain(res.statusCode);
          continue;
        }
        expect(res.statusCode, route.label).toBe(401);
        if (route.method !== 'HEAD') {
          const { error } = res.json();
          expect(error.code, route.label).toBe('HERALD_ERR_UNAUTHORIZED');
          expect(error.message).toEqual(expect.any(String));
        }
      }
      expect(await writtenKeys()).toEqual([]);
    });
  });

  it.each([
    ['x-api-key', { 'x-api-key': 'ak1' }],
    ['api-key', { 'api-key': 'ak1' }],
    ['a forged dashboard session cookie', { cookie: 'herald_session=forged' }],
  ])('a key in %s is not a key: every route that needs one answers 401', async (_name, headers) => {
    for (const route of appRoutes().filter((r) => r.role !== 'public')) {
      const res = await pub.app.inject({ method: route.method, url: route.url, headers });
      expect(res.statusCode, route.label).toBe(401);
    }
    const inQuery = await pub.app.inject({ method: 'GET', url: '/v1/users/u?api_key=ak1&key=ak1&token=ak1' });
    expect(inQuery.statusCode).toBe(401);
  });

  it('a publish key gets 403 HERALD_ERR_FORBIDDEN on every admin route and does nothing there, and is let into every other', async () => {
    for (const route of appRoutes()) {
      const res = await call(route, 'Bearer pk1');
      if (route.role === 'admin') {
        expect(res.statusCode, route.label).toBe(403);
        if (route.method !== 'HEAD') expect(res.json().error.code, route.label).toBe('HERALD_ERR_FORBIDDEN');
      } else {
        expect([401, 403], route.label).not.toContain(res.statusCode);
        expect(res.statusCode, route.label).toBeLessThan(500);
      }
    }
  });

  it("a user token is let into exactly its own user's browser routes, and gets 403 on every other", async () => {
    const made = await call({ method: 'POST', url: '/v1/users/u/tokens' }, 'Bearer pk1');
    expect(made.statusCode).toBe(201);
    const { token, userId, expiresAt } = made.json();
    expect(userId).toBe('u');
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(900_000);
    for (const route of appRoutes()) {
      if (route.role === 'public') continue;
      const res = await call(route, `Bearer ${token}`);
      if (route.userToken) {
        expect([401, 403], route.label).not.toContain(res.statusCode);
        expect(res.statusCode, route.label).toBeLessThan(500);
      } else {
        expect(res.statusCode, route.label).toBe(403);
        if (route.method !== 'HEAD') expect(res.json().error.code, route.label).toBe('HERALD_ERR_FORBIDDEN');
      }
    }
    // Another user's browser routes, whatever the route would accept.
    const other = await call(
      { method: 'POST', url: '/v1/users/v/push-subscriptions', body: browserSubscription() },
      `Bearer ${token}`,
    );
    expect(other.statusCode).toBe(403);
    expect(other.json().error.message).toContain('outside this user token');
    expect(await pub.admin.exists(pub.keys.pushSubscriptions('v'))).toBe(0);
  });

  it('an admin key is let into every route', async () => {
    for (const route of appRoutes()) {
      const res = await call(route, 'Bearer ak1');
      expect([401, 403], route.label).not.toContain(res.statusCode);
      expect(res.statusCode, route.label).toBeLessThan(500);
    }
  });

  it('checks the key before the body: a bad body without a key is 401, not 400', async () => {
    const res = await pub.app.inject({
      method: 'POST',
      url: '/v1/notifications',
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    });
    expect(res.statusCode).toBe(401);
  });

  it.each(['pk1', 'pk2'])('publish key %s works on every publish route', async (key) => {
    await exercisePublishRoutes(`Bearer ${key}`, key);
  });

  it('admin key ak1 works on every route', async () => {
    await exercisePublishRoutes('Bearer ak1', 'admin');
    await call({ method: 'PUT', url: '/v1/users/u', body: { email: 'u@example.com' } }, 'Bearer ak1');
    const res = await call({ method: 'DELETE', url: '/v1/users/u' }, 'Bearer ak1');
    expect(res.statusCode).toBe(204);
    expect(await pub.admin.exists(pub.keys.user('u'))).toBe(0);
  });

  it('accepts the scheme in any case and spaces around the key', async () => {
    for (const header of ['bearer pk1', 'BEARER pk2', 'Bearer  ak1', 'Bearer pk1 ']) {
      const res = await call({ method: 'GET', url: '/v1/notifications/none' }, header);
      expect(res.statusCode, header).toBe(404);
    }
  });

  it.each(['pk1', 'pk2'])(
    'DELETE /v1/users/:userId with publish key %s answers 403 HERALD_ERR_FORBIDDEN and keeps the user',
    async (key) => {
      await call({ method: 'PUT', url: '/v1/users/u', body: { email: 'u@example.com' } }, 'Bearer pk1');
      const res = await call({ method: 'DELETE', url: '/v1/users/u' }, `Bearer ${key}`);
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('HERALD_ERR_FORBIDDEN');
      expect(await pub.admin.hget(pub.keys.user('u'), 'email')).toBe('u@example.com');
      const admin = await call({ method: 'DELETE', url: '/v1/users/u' }, 'Bearer ak1');
      expect(admin.statusCode).toBe(204);
      expect(await pub.admin.exists(pub.keys.user('u'))).toBe(0);
    },
  );

  it.each([
    ['/healthz', { status: 'ok' }],
    ['/readyz', { status: 'ready' }],
  ])('%s needs no key', async (url, body) => {
    const res = await pub.app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(body);
  });

  it('/metrics needs no key', async () => {
    const res = await pub.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('an unknown path outside /v1 needs a key too, then is 404', async () => {
    const anonymous = await pub.app.inject({ method: 'GET', url: '/nope' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error.code).toBe('HERALD_ERR_UNAUTHORIZED');
    const keyed = await pub.app.inject({ method: 'GET', url: '/nope', headers: { authorization: 'Bearer pk1' } });
    expect(keyed.statusCode).toBe(404);
    expect(keyed.json().error.code).toBe('HERALD_ERR_NOT_FOUND');
  });

  it('percent-encoded spellings of /v1 routes need a key too', async () => {
    await call({ method: 'PUT', url: '/v1/users/u', body: { email: 'u@example.com' } }, 'Bearer ak1');
    const base = await pub.listen();
    // `/%761` and `/v%31` are `/v1` once decoded, and the router matches them to the /v1 routes.
    for (const path of ['/%761/users/u', '/v%31/users/u']) {
      const read = await fetch(`${base}${path}`);
      expect(read.status, `GET ${path}`).toBe(401);
      const removed = await fetch(`${base}${path}`, { method: 'DELETE', headers: { authorization: 'Bearer pk1' } });
      expect(removed.status, `DELETE ${path} with a publish key`).toBe(403);
      const anonymous = await fetch(`${base}${path}`, { method: 'DELETE' });
      expect(anonymous.status, `DELETE ${path} without a key`).toBe(401);
    }
    expect(await pub.admin.hget(pub.keys.user('u'), 'email')).toBe('u@example.com');
  });

  it('answers over real HTTP too', async () => {
    const base = await pub.listen();
    const anonymous = await fetch(`${base}/v1/users/u`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('HERALD_ERR_UNAUTHORIZED');
    const keyed = await fetch(`${base}/v1/users/u`, { headers: { authorization: 'Bearer pk2' } });
    expect(keyed.status).toBe(404);
  });
});

describe('with no key configured', () => {
  beforeEach(async () => {
    pub = await startPublisher(redisServer.url, { VAPID_PUBLIC_KEY: p256dhKey() });
  });
  afterEach(async () => {
    await pub.close();
  });

  it('every route is open', async () => {
    await exercisePublishRoutes(undefined, 'open');
    await call({ method: 'PUT', url: '/v1/users/u', body: { email: 'u@example.com' } });
    const res = await call({ method: 'DELETE', url: '/v1/users/u' });
    expect(res.statusCode).toBe(204);
    expect(await pub.admin.exists(pub.keys.user('u'))).toBe(0);
  });

  it('ignores an Authorization header', async () => {
    await exercisePublishRoutes('Bearer whatever', 'ignored');
  });
});

describe('the entry point (services/publisher/src/main.ts)', () => {
  interface Run {
    child: ChildProcess;
    stdout: string;
    stderr: string;
    exit: Promise<number | null>;
  }
  const runs: Run[] = [];

  afterEach(async () => {
    for (const run of runs.splice(0)) {
      if (run.child.exitCode === null && run.child.signalCode === null) {
        run.child.kill('SIGKILL');
        await run.exit;
      }
    }
  });

  function startMain(env: Record<string, string>): Run {
    const unique = randomUUID().slice(0, 8);
    const base: Record<string, string> = {};
    // The test's own environment minus anything Herald reads, so only `env` configures it.
    for (const [name, value] of Object.entries(process.env)) {
      if (value !== undefined && !/^(HERALD_|VAPID_|REDIS_URL$|HOST$|PORT$|LOG_LEVEL$)/.test(name)) base[name] = value;
    }
    const child = spawn(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', 'services/publisher/src/main.ts'],
      {
        cwd: ROOT,
        env: {
          ...base,
          REDIS_URL: redisServer.url,
          HERALD_STREAM: `test:${unique}:notifications`,
          HERALD_KEY_PREFIX: `test:${unique}:`,
          LOG_LEVEL: 'info',
          PORT: '0',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const run: Run = {
      child,
      stdout: '',
      stderr: '',
      exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    };
    child.stdout.on('data', (chunk: Buffer) => (run.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
    runs.push(run);
    return run;
  }

  it('exits 1 on HOST=0.0.0.0 without keys, naming HOST and HERALD_API_KEYS', async () => {
    const run = startMain({ HOST: '0.0.0.0' });
    expect(await run.exit).toBe(1);
    expect(run.stderr).toMatch(/HOST/);
    expect(run.stderr).toMatch(/set HERALD_API_KEYS/);
    expect(run.stdout).not.toMatch(/publisher listening/);
  });

  it('starts on HOST=0.0.0.0 with HERALD_API_KEYS, enforces the key, and exits 0 on SIGTERM', async () => {
    const run = startMain({ HOST: '0.0.0.0', HERALD_API_KEYS: 'pk1' });
    const line = await waitFor(
      () => {
        if (run.child.exitCode !== null) throw new Error(`exited ${run.child.exitCode}: ${run.stderr}`);
        return run.stdout.split('\n').find((l) => l.includes('publisher listening'));
      },
      { what: '"publisher listening" on stdout' },
    );
    const { address } = JSON.parse(line) as { address: { address: string; port: number } };
    expect(address.address).toBe('0.0.0.0');
    const base = `http://127.0.0.1:${address.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/v1/users/u`)).status).toBe(401);
    expect((await fetch(`${base}/v1/users/u`, { headers: { authorization: 'Bearer pk1' } })).status).toBe(404);

    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    expect(run.stdout).toMatch(/stopped/);
  });
});
