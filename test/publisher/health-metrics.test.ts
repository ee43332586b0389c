import { describe, expect, it } from 'vitest';
import { usePublisher } from '../helpers/publisher.js';

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
      ctx.pub.app.inject({ method: 'POST', url: '/v1/notifications', headers: { 'content-type': 'application/json' }, payload: payload as object });
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
      metricValue(text, 'herald_http_request_duration_seconds_count{method="POST",route="/v1/notifications",status_code="202"}'),
    ).toBe(1);
    expect(text).toContain('herald_publisher_process_resident_memory_bytes');
  });
});
