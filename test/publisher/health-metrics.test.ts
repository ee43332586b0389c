import { describe, expect, it } from 'vitest';
import { usePublisher } from '../helpers/publisher.js';
import { waitFor } from '../helpers/wait-for.js';

const ctx = usePublisher({}, { perFile: true });

function metricValue(text: string, line: string): number {
  const found = text.split('\n').find((l) => l.startsWith(line + ' '));
  return found ? Number(found.split(' ').pop()) : 0;
}

describe('health and metrics', () => {
  it('answers /healthz and /readyz while Redis is up', async () => {
    expect((await ctx.pub.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await ctx.pub.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
  });

  it('counts notifications by outcome and times requests in Prometheus text', async () => {
    const send = (payload: unknown) =>
      ctx.pub.app.inject({
        method: 'POST',
        url: '/v1/notifications',
        headers: { 'content-type': 'application/json' },
        payload: payload as object,
      });
    const n = { id: 'm-1', userId: 'u', type: 'otp', body: 'b' };
    expect((await send(n)).statusCode).toBe(202);
    expect((await send(n)).statusCode).toBe(200);
    expect((await send({ ...n, body: 'other' })).statusCode).toBe(409);
    expect((await send({ userId: 'u' })).statusCode).toBe(400);

    const res = await ctx.pub.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.headers['content-type']).toContain('text/plain');
    const text = res.body;
    expect(metricValue(text, 'herald_notifications_published_total{outcome="accepted"}')).toBe(1);
    expect(metricValue(text, 'herald_notifications_published_total{outcome="duplicate"}')).toBe(1);
    expect(metricValue(text, 'herald_notifications_published_total{outcome="rejected"}')).toBe(2);
    expect(
      metricValue(
        text,
        'herald_http_request_duration_seconds_count{method="POST",route="/v1/notifications",status_code="202"}',
      ),
    ).toBe(1);
    expect(text).toContain('herald_publisher_process_resident_memory_bytes');
  });

  it('reads the groups from Redis at most once a second, however fast /metrics is scraped', async () => {
    /** Commands Redis has run since its statistics were reset. */
    const commandsRun = async () =>
      [
        ...(await ctx.pub.admin.info('commandstats')).matchAll(
          /^cmdstat_([\w|]+):calls=(\d+).*rejected_calls=(\d+),failed_calls=(\d+)/gm,
        ),
      ]
        .filter(([, name]) => !/^(info|config)/.test(name!))
        .reduce((sum, [, , calls, rejected, failed]) => sum + Number(calls) + Number(rejected) + Number(failed), 0);
    // Over a real socket: in-process inject() can run scrapes back to back in one turn of the event loop.
    const url = `${await ctx.pub.listen()}/metrics`;
    const scrape = async () => {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      await res.text();
    };
    // A stream and a group to read.
    await ctx.pub.admin.xgroup('CREATE', ctx.pub.keys.stream, ctx.pub.keys.group('email'), '0', 'MKSTREAM');
    await waitFor(
      async () => {
        // Wait out any reading still fresh from an earlier scrape: the next scrape must read.
        await ctx.pub.admin.config('RESETSTAT');
        await scrape();
        return (await commandsRun()) > 0;
      },
      { what: 'a scrape that reads the groups' },
    );
    const oneReading = await commandsRun();

    const started = Date.now();
    for (let i = 0; i < 50; i++) await scrape();
    const seconds = (Date.now() - started) / 1000;
    // A new reading at most once a second, so however long 50 scrapes took on this machine:
    expect(await commandsRun()).toBeLessThanOrEqual(oneReading * (2 + Math.ceil(seconds)));
  });
});
