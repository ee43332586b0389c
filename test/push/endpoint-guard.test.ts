import { mkdtempSync, rmSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '@herald/shared';
import { classifyPushError } from '../../services/push/src/classify-push-error.js';
import { createPushAgent } from '../../services/push/src/push-agent.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { publishPushAndSettle, storeSubscriptions } from '../helpers/push-subscriptions.js';

/**
 * The push worker checks the address where it connects (issue 12): a plain TCP listener on a
 * private address stands where a probe would look for an open port, and counts what reaches
 * it. 127.0.0.2 rather than 127.0.0.1, so that nothing else on the machine is in the way (tests
 * run as root, so port 443 can be bound).
 */
const PRIVATE_HOST = '127.0.0.2';

/** A listener that counts connections and the bytes they sent, then drops them. */
function countingListener(): { server: Server; connections: number; bytes: number } {
  const counts = { connections: 0, bytes: 0 };
  const server = createServer((socket) => {
    counts.connections++;
    socket.on('data', (chunk) => {
      counts.bytes += chunk.length;
      socket.destroy();
    });
    socket.on('error', () => undefined);
  });
  return Object.assign(counts, { server });
}

let stack: TestStack;
const listener = countingListener();
const unixDir = mkdtempSync(join(tmpdir(), 'herald-guard-'));
const unixListener = countingListener();

beforeAll(async () => {
  await Promise.all([
    new Promise<void>((resolve, reject) => listener.server.once('error', reject).listen(443, PRIVATE_HOST, resolve)),
    new Promise<void>((resolve, reject) =>
      unixListener.server.once('error', reject).listen(join(unixDir, 'push.sock'), resolve),
    ),
  ]);
  stack = await startStack();
}, 60_000);

afterAll(async () => {
  await stack?.close();
  await Promise.all([listener, unixListener].map(({ server }) => new Promise((resolve) => server.close(resolve))));
  rmSync(unixDir, { recursive: true, force: true });
});

/** Characters after which the legacy url.parse (web-push's) ends an IPv4 host and the WHATWG URL does not. */
const ODD = [';', "'", '"', '{', '}', '`'];

describe('push subscriptions stored before the subscribe check', () => {
  it('are refused for good by a worker with private addresses refused, and nothing connects', async () => {
    await stack.spawnWorker('push', { HERALD_ALLOW_PRIVATE_PUSH: 'false' });
    for (const [i, c] of ODD.entries()) {
      const endpoint = `https://${PRIVATE_HOST}${c}.example.com/subscription-secret`;
      const { keys } = stack.push.createSubscription();
      await storeSubscriptions(stack.pub, `stored-${i}`, [{ endpoint, keys, createdAt: Date.now() }]);
      const push = await publishPushAndSettle(stack.pub, { userId: `stored-${i}` });
      expect(push, endpoint).toMatchObject({ state: 'dead', reason: 'permanent', attempts: 1 });
      // Refused, in words that do not tell an open port from a closed one, without the path.
      expect(push.error, endpoint).toMatch(/refused/);
      expect(push.error, endpoint).not.toMatch(/ECONN|reset|timed out|socket hang up|subscription-secret/);
    }
    expect(listener.connections).toBe(0);
  });
});

describe('the push agent', () => {
  /** Make a request through `agent` with `options`; resolves with the error it ended with. */
  function failure(options: RequestOptions): Promise<unknown> {
    const agent = createPushAgent({ allowPrivate: false });
    return new Promise<unknown>((resolve) => {
      const req = request({ method: 'POST', path: '/subscription-secret', ...options, agent }, (res) => {
        res.resume();
        resolve(new Error(`unexpectedly answered ${res.statusCode}`));
      });
      req.once('error', resolve);
      req.end('payload');
    }).finally(() => agent.destroy());
  }

  it.each([PRIVATE_HOST, `::ffff:${PRIVATE_HOST}`])(
    'refuses to connect to the IP literal %s, which Node connects to without a lookup, whatever parsed it',
    async (host) => {
      const err = await failure({ host, port: 443 });
      expect(err).toBeInstanceOf(DeliveryError);
      expect(classifyPushError(err).kind).toBe('permanent');
      expect((err as Error).message).toMatch(/refused/);
      expect((err as Error).message).not.toContain('subscription-secret');
      expect(listener.connections).toBe(0);
    },
  );

  it('as a last guard, destroys a connection whose far end is no public address before writing to it', async () => {
    // A Unix socket: no host for the string check, no lookup, and no IP address at the far end.
    const err = await failure({ socketPath: join(unixDir, 'push.sock') });
    expect(err).toBeInstanceOf(DeliveryError);
    expect(classifyPushError(err).kind).toBe('permanent');
    expect((err as Error).message).toMatch(/refused/);
    expect(unixListener.bytes).toBe(0);
  });
});
