import { createECDH, randomBytes } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEntry } from '@herald/shared';
import { freePort } from '../helpers/free-port.js';
import { startPublisher, type TestPublisher } from '../helpers/publisher.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { ROOT } from '../helpers/service-process.js';
import { waitFor } from '../helpers/wait-for.js';

/** The CLI from its sources, as the other tests run services (the built bin runs cli/dist/main.js). */
const BIN = ['--conditions=development', '--import', 'tsx', 'cli/src/main.ts'];
let redisServer: TestRedis;
let pub: TestPublisher;
let url: string;

beforeAll(async () => {
  redisServer = await startRedis();
  pub = await startPublisher(redisServer.url, {
    HERALD_API_KEYS: 'pk',
    HERALD_ADMIN_KEYS: 'ak',
    HERALD_USER_TOKEN_SECRETS: 'cli-test-user-token-secret-32-chars',
  });
  url = await pub.listen();
});
afterAll(async () => {
  await pub.close();
  await redisServer.destroy();
});

/** Run `herald <args>` as a user would, with HERALD_URL and HERALD_API_KEY. */
function herald(args: string[], key = 'ak', baseUrl = url): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...BIN, ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH, HERALD_URL: baseUrl, HERALD_API_KEY: key } },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('herald CLI', () => {
  it('publishes and shows the status, as a table or as JSON', async () => {
    const publish = ['publish', '--id', 'cli-1', '--user', 'u1', '--type', 'otp', '--body', 'Code 1'];
    const toEmail = ['--channels', 'email', '--email', 'a@example.com'];
    const published = await herald([...publish, ...toEmail], 'pk');
    expect(published.code, published.stderr).toBe(0);
    expect(published.stdout).toMatch(/id\s+cli-1/);
    const again = await herald(['--json', ...publish, ...toEmail], 'pk');
    expect(JSON.parse(again.stdout)).toMatchObject({ id: 'cli-1', status: 'duplicate' });

    const status = await herald(['status', 'cli-1'], 'pk');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/CHANNEL\s+STATE/);
    expect(status.stdout).toMatch(/email\s+pending\s+0/);
    const json = JSON.parse((await herald(['--json', 'status', 'cli-1'], 'pk')).stdout);
    expect(json.channels.sms.state).toBe('pending');
  });

  it('tells failures apart by exit code: refused 1, usage 2, unavailable 3', async () => {
    const missing = await herald(['status', 'no-such-id']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('HERALD_ERR_NOT_FOUND');
    const invalid = await herald(['publish', '--user', 'u1', '--type', 'Not A Type', '--body', 'x']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('HERALD_ERR_VALIDATION');
    expect(invalid.stderr).toContain('type:');
    const forbidden = await herald(['replay', 'email', '--from', '0'], 'pk');
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain('HERALD_ERR_FORBIDDEN');
    expect((await herald(['frobnicate'])).code).toBe(2);
    expect((await herald(['replay', 'email'])).code).toBe(2); // --from is required
    const down = await herald(['groups'], 'ak', `http://127.0.0.1:${await freePort()}`);
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('HERALD_ERR_NETWORK');
  });

  it('exits 4, not 3, when a resend replay got no answer: it may have started, and a retry would send again', async () => {
    const slow = await startPublisher(redisServer.url, {
      HERALD_API_KEYS: 'pk',
      HERALD_ADMIN_KEYS: 'ak',
      HERALD_REDIS_TIMEOUT_MS: '200',
    });
    try {
      const slowUrl = await slow.listen();
      redisServer.signal('SIGSTOP');
      try {
        const resend = await herald(['replay', 'email', '--from', '0', '--resend'], 'ak', slowUrl);
        expect(resend.code, resend.stderr).toBe(4);
        expect(resend.stderr).toContain('HERALD_ERR_UNAVAILABLE');
        expect(resend.stderr).toContain('may have started its pass');
        // Without --resend a replay only fills gaps: safe to run again, so still "unavailable".
        expect((await herald(['replay', 'email', '--from', '0'], 'ak', slowUrl)).code).toBe(3);
      } finally {
        redisServer.signal('SIGCONT');
      }
    } finally {
      await slow.close();
    }
  });

  it('shows groups, replays, and sets and gets users', async () => {
    const groups = JSON.parse((await herald(['--json', 'groups'])).stdout);
    expect(groups.map((g: { channel: string }) => g.channel)).toEqual(['email', 'sms', 'push']);
    expect((await herald(['groups'])).stdout).toMatch(/CHANNEL\s+GROUP\s+CONSUMERS/);
    const replay = await herald(['--json', 'replay', 'sms', '--from', '0', '--resend']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ group: 'sms_notifier_group', from: '0-0', pass: 1 });

    const set = await herald(
      ['users', 'set', 'cli-user', '--email', 'c@example.com', '--preferences', '{"promo":{"sms":false}}'],
      'pk',
    );
    expect(set.code, set.stderr).toBe(0);
    const got = JSON.parse((await herald(['--json', 'users', 'get', 'cli-user'], 'pk')).stdout);
    expect(got).toMatchObject({ email: 'c@example.com', preferences: { promo: { sms: false } } });
  });

  it("makes a user token that the user's browser can register a push subscription with, and nothing more", async () => {
    const made = await herald(['users', 'token', 'cli-user'], 'pk');
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^hut1\./);
    const asBrowser = (path: string, init: RequestInit = {}) =>
      fetch(`${url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const subscription = {
      endpoint: 'https://push.example.com/cli',
      keys: { p256dh: ecdh.getPublicKey('base64url'), auth: randomBytes(16).toString('base64url') },
    };
    expect(
      (await asBrowser('/v1/users/cli-user/push-subscriptions', { method: 'POST', body: JSON.stringify(subscription) }))
        .status,
    ).toBe(201);
    expect((await asBrowser('/v1/users/cli-user')).status).toBe(403);
  });

  it('lists, redrives and drops dead letters', async () => {
    const n = { v: 1 as const, id: 'cli-dead', userId: 'u', type: 'otp', payload: { body: 'b' }, ts: Date.now() };
    const letter = (streamId: string) => [
      'channel',
      'email',
      'streamId',
      streamId,
      'id',
      n.id,
      'reason',
      'permanent',
      'attempts',
      '1',
      'error',
      '550 no such user',
      ...encodeEntry(n),
    ];
    const first = (await pub.admin.xadd(pub.keys.deadLetters, '*', ...letter('1-0')))!;
    const second = (await pub.admin.xadd(pub.keys.deadLetters, '*', ...letter('2-0')))!;
    await pub.admin.hset(pub.keys.deadLetterCounts, 'email', 2);

    const list = await herald(['dlq', 'list']);
    expect(list.stdout).toContain(first);
    expect(list.stdout).toContain('550 no such user');
    const redrive = JSON.parse((await herald(['--json', 'dlq', 'redrive', first])).stdout);
    expect(redrive).toMatchObject({ id: 'cli-dead', channel: 'email' });
    const [[, fields]] = (await pub.admin.xrange(pub.keys.stream, redrive.streamId, redrive.streamId)) as [
      [string, string[]],
    ];
    expect(fields).toEqual(expect.arrayContaining(['channels', 'email']));
    expect((await herald(['dlq', 'redrive', first])).code).toBe(1);
    expect((await herald(['dlq', 'drop', second])).code).toBe(0);
    expect(JSON.parse((await herald(['--json', 'dlq', 'list'])).stdout).deadLetters).toEqual([]);
  });

  it('tails the stream live, one line per entry', async () => {
    const tail = spawn(process.execPath, [...BIN, 'tail'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HERALD_URL: url, HERALD_API_KEY: 'ak' },
    });
    let out = '';
    tail.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => tail.once('exit', resolve));
    // Publish until the tail (which starts from "now") has seen one: it may connect after the first.
    await waitFor(
      async () => {
        await pub.app.inject({
          method: 'POST',
          url: '/v1/notifications',
          headers: { authorization: 'Bearer pk' },
          payload: { userId: 'tailed', type: 'news', body: 'b', to: { email: 'secret@example.com' } },
        });
        return out.includes('user=tailed');
      },
      { intervalMs: 200, what: 'the tail to print an entry' },
    );
    expect(out).toMatch(/^\d+-\d+ {2}news {2}user=tailed/m);
    expect(out).not.toContain('secret@example.com');
    tail.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
