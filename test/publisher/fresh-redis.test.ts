import { describe, expect, it } from 'vitest';
import { checkAnswer } from '../helpers/hostile.js';
import { usePublisher } from '../helpers/publisher.js';
import { rawExchange } from '../helpers/raw-http.js';
import { validRequests } from '../hostile/arbitraries.js';

/**
 * The first request a new deployment gets may be any route's, before anything was published or
 * any worker ran: no stream, no group, no dead letters yet. Each answers 2xx or a 4xx in the error
 * shape, never a 5xx (a replay from 0 once answered 503 "Redis is unavailable" here).
 */
const ctx = usePublisher({ HERALD_API_KEYS: 'pk', HERALD_ADMIN_KEYS: 'ak' }, { perFile: true });

describe('a Redis where nothing was published yet', () => {
  it('answers every route without a 5xx, each request the first of its kind', async () => {
    const port = Number(new URL(await ctx.pub.listen()).port);
    // Writes last, so every read meets the empty Redis; a write's stream is removed after it.
    const requests = validRequests(ctx.pub.routes).sort((a, b) => Number(a.method !== 'GET' && a.method !== 'HEAD') - Number(b.method !== 'GET' && b.method !== 'HEAD'));
    expect(requests.length).toBeGreaterThan(20);
    const answers: string[] = [];
    for (const { method, path, body } of requests) {
      await ctx.pub.admin.flushall();
      const head = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Authorization: Bearer ak', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
      const [response] = await rawExchange(port, `${head.join('\r\n')}\r\n\r\n${body}`, { head: method === 'HEAD', timeoutMs: 5000 });
      expect(response, `${method} ${path}: no answer`).toBeDefined();
      checkAnswer(`${method} ${path}`, response!.status, response!.body, { head: method === 'HEAD' });
      answers.push(`${method} ${path} ${response!.status}`);
    }
    // Not all refused: the routes did their work (replay made its group, publish appended, ...).
    expect(answers.filter((a) => / 2\d\d$/.test(a)).length).toBeGreaterThan(requests.length / 2);
  });
});
