import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../services/publisher/src/loopback-host.js';
import { usePublisher } from '../helpers/publisher.js';
import { rawExchange } from '../helpers/raw-http.js';

/**
 * DNS rebinding (issue 12): with no key configured the publisher is open to this machine, and a
 * web page in a browser here could reach it through a name of its own that resolves to
 * 127.0.0.1. Such requests carry that name in Host: without keys, only loopback hosts are served.
 */
const ctx = usePublisher({}, { perFile: true });

const ALLOWED = [
  'localhost',
  'localhost:3000',
  'LOCALHOST:3000',
  'localhost.',
  'app.localhost:3000',
  '127.0.0.1',
  '127.0.0.1:3000',
  '127.1.2.3:80',
  '[::1]',
  '[::1]:3000',
  '[0:0:0:0:0:0:0:1]:3000',
  '[::ffff:127.0.0.1]:3000',
];
const REFUSED = [
  'evil.example',
  'evil.example:3000',
  'localhost.evil.example',
  'localhost.evil.example:3000',
  '127.0.0.1.nip.io',
  '10.0.0.1:3000',
  '0.0.0.0:3000',
  '128.0.0.1',
  '[::2]:3000',
  '[::ffff:10.0.0.1]',
  'localhost:3000:3000',
  'localhost:http',
];

async function getWithHost(host: string) {
  return ctx.pub.app.inject({ method: 'GET', url: '/v1/users/u1', headers: { host } });
}

describe('without keys, requests addressed to another Host', () => {
  it.each(REFUSED)('Host %j is refused with 403 HERALD_ERR_FORBIDDEN naming it', async (host) => {
    const res = await getWithHost(host);
    expect(res.statusCode).toBe(403);
    const { error } = res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('HERALD_ERR_FORBIDDEN');
    expect(error.message).toContain(`Host ${JSON.stringify(host)}`);
    expect(error.message).toContain('HERALD_API_KEYS');
  });

  it('refuses public routes too, and a Host too long to quote whole is cut in the message', async () => {
    const health = await ctx.pub.app.inject({ method: 'GET', url: '/healthz', headers: { host: 'rebound.example' } });
    expect(health.statusCode).toBe(403);
    const long = await getWithHost(`${'a'.repeat(5000)}.example`);
    expect(long.statusCode).toBe(403);
    expect(long.payload.length).toBeLessThan(1000);
  });

  it.each(ALLOWED)('Host %j is served', async (host) => {
    const res = await getWithHost(host);
    expect(res.statusCode).toBe(404);
    expect(res.json<{ error: { code: string } }>().error.code).toBe('HERALD_ERR_NOT_FOUND');
  });

  it('over a real socket: HTTP/1.0 without Host is served, a foreign or empty Host refused, HTTP/1.1 without Host still 400', async () => {
    const port = Number(new URL(await ctx.pub.listen()).port);
    const [plain] = await rawExchange(port, 'GET /healthz HTTP/1.0\r\n\r\n');
    expect(plain!.status).toBe(200);
    const [rebound] = await rawExchange(
      port,
      'GET /healthz HTTP/1.1\r\nHost: rebound.example:3000\r\nConnection: close\r\n\r\n',
    );
    expect(rebound!.status).toBe(403);
    const [hostless] = await rawExchange(port, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(hostless!.status).toBe(400);
    const [empty] = await rawExchange(port, 'GET /healthz HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n');
    expect(empty!.status).toBe(403);
    const [local] = await rawExchange(
      port,
      `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    );
    expect(local!.status).toBe(200);
  });
});

describe('with keys', () => {
  it('any Host is served: the key is what guards the API', async () => {
    const pub = await ctx.restart({ HERALD_API_KEYS: 'pk' });
    const res = await pub.app.inject({
      method: 'GET',
      url: '/v1/users/u1',
      headers: { host: 'herald.internal.example', authorization: 'Bearer pk' },
    });
    expect(res.statusCode).toBe(404);
    const health = await pub.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { host: 'herald.internal.example' },
    });
    expect(health.statusCode).toBe(200);
  });
});

describe('isLoopbackHost, also used for the HOST setting', () => {
  it.each(['127.0.0.1', '::1', 'localhost', '127.0.0.2'])('%s is loopback', (host) =>
    expect(isLoopbackHost(host)).toBe(true),
  );
  it.each(['0.0.0.0', '::', '10.0.0.1', 'herald.example', 'fe80::1'])('%s is not', (host) =>
    expect(isLoopbackHost(host)).toBe(false),
  );
});
