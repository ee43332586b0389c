import { describe, expect, it } from 'vitest';
import { checkAnswer } from '../helpers/hostile.js';
import { usePublisher } from '../helpers/publisher.js';
import { plainRequest, rawExchange } from '../helpers/raw-http.js';
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
    const requests = validRequests(ctx.pub.routes);
    expect(requests.length).toBeGreaterThan(20);
    const answers: string[] = [];
    for (const { method, path, body } of requests) {
      // Each request meets an empty Redis, whatever the one before it wrote.
      await ctx.pub.admin.flushall();
      const [response] = await rawExchange(port, plainRequest(method, path, { authorization: 'Bearer ak', body }), {
        head: method === 'HEAD',
        timeoutMs: 5000,
      });
      expect(response, `${method} ${path}: no answer`).toBeDefined();
      checkAnswer(`${method} ${path}`, response!.status, response!.body, { head: method === 'HEAD' });
      answers.push(`${method} ${path} ${response!.status}`);
    }
    // Not all refused: the routes did their work (replay made its group, publish appended, ...).
    expect(answers.filter((a) => / 2\d\d$/.test(a)).length).toBeGreaterThan(requests.length / 2);
  });
});
