import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { spawnService } from '../helpers/service-process.js';
import { freePort } from '../helpers/free-port.js';

const ENTRY = 'services/publisher/src/main.ts';
let redisServer: TestRedis;

beforeAll(async () => {
  redisServer = await startRedis();
});
afterAll(async () => {
  await redisServer.destroy();
});

describe('publisher process', () => {
  it('stops with exit code 1 and one line per bad variable, naming it', async () => {
    const proc = spawnService(ENTRY, {
      REDIS_URL: 'http://127.0.0.1:6379',
      PORT: 'eighty',
      HERALD_IDEMPOTENCY_TTL_S: '-5',
    });
    expect(await proc.exited).toBe(1);
    const lines = proc.output().trim().split('\n');
    expect(lines).toContain('REDIS_URL: expected a redis:// or rediss:// URL');
    expect(lines.some((l) => l.startsWith('PORT: expected a whole number'))).toBe(true);
    expect(lines.some((l) => l.startsWith('HERALD_IDEMPOTENCY_TTL_S: expected a whole number'))).toBe(true);
    expect(lines).toHaveLength(3);
  });

  it('on SIGTERM stops accepting, finishes the request in flight, and exits 0', async () => {
    const port = await freePort();
    const proc = spawnService(ENTRY, { REDIS_URL: redisServer.url, PORT: String(port), HERALD_STREAM: 'proc:test' });
    await proc.waitForOutput('publisher listening');
    expect(proc.output()).toContain('no API key is set');

    // A request whose body is still on its way: Expect: 100-continue tells us the server has it.
    const body = JSON.stringify({ id: 'in-flight', userId: 'u1', type: 'otp', body: 'Your code is 123456' });
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/notifications',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        expect: '100-continue',
      },
    });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
    });
    await new Promise<void>((resolve) => req.once('continue', () => resolve()));

    proc.child.kill('SIGTERM');
    await proc.waitForOutput('stopping');
    req.end(body);

    const res = await response;
    expect(res.status).toBe(202);
    expect(JSON.parse(res.body).id).toBe('in-flight');
    expect(await proc.exited).toBe(0);
    // New connections are refused once it has stopped.
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
