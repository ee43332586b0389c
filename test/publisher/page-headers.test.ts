import { describe, expect, it } from 'vitest';
import { usePublisher } from '../helpers/publisher.js';

/**
 * The pages the publisher serves may not be framed by another site (clickjacking, issue 12): the
 * push demo said nothing about framing while the dashboard said `frame-ancestors 'none'`.
 */
const ctx = usePublisher({ HERALD_API_KEYS: 'pk', HERALD_ADMIN_KEYS: 'ak' }, { perFile: true });

const PAGES = ['/demo', '/demo/', '/demo/app.js', '/demo/sw.js', '/dashboard', '/dashboard/app.js'];

describe('security headers of the pages', () => {
  it.each(PAGES)('%s may not be framed, nor sniffed, nor leak its address', async (url) => {
    const res = await ctx.pub.app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    const policy = String(res.headers['content-security-policy'])
      .split(';')
      .map((d) => d.trim());
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("default-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });
});
