import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { usePublisher, type TestPublisher } from '../helpers/publisher.js';

/**
 * Issue 12's critical finding: the session cookie was `<expiry>.<HMAC>` under a secret derived
 * from the sorted admin keys, a constant anyone could compute when HERALD_ADMIN_KEYS was empty,
 * accepted with any expiry and alive after sign-out. Sessions now live in Redis.
 */
const ctx = usePublisher({ HERALD_API_KEYS: 'pk', HERALD_ADMIN_KEYS: 'ak' });

/** A cookie as the old code signed it, for these admin keys and this expiry. */
function forgedCookie(adminKeys: string[], expires: number): string {
  const secret = createHash('sha256')
    .update(`herald-dashboard\n${[...adminKeys].sort().join('\n')}`)
    .digest();
  return `herald_session=${expires}.${createHmac('sha256', secret).update(String(expires)).digest('base64url')}`;
}

async function signIn(pub: TestPublisher, key = 'ak'): Promise<string> {
  const res = await pub.app.inject({ method: 'POST', url: '/dashboard/session', payload: { key } });
  expect(res.statusCode).toBe(200);
  const setCookie = String(res.headers['set-cookie']);
  expect(setCookie).toMatch(/HttpOnly; SameSite=Strict; Path=\/; Max-Age=28800/);
  return setCookie.split(';')[0]!;
}

/** What a request with `cookie` gets on an admin route and on a publish route. */
async function reach(pub: TestPublisher, cookie: string) {
  const groups = await pub.app.inject({ method: 'GET', url: '/v1/groups', headers: { cookie } });
  const user = await pub.app.inject({ method: 'GET', url: '/v1/users/u1', headers: { cookie } });
  return [groups.statusCode, user.statusCode];
}

describe('dashboard sessions', () => {
  it('a cookie signed the old way, with no key at all, is refused on every kind of route', async () => {
    for (const cookie of [forgedCookie(['ak'], Date.now() + 3_600_000), forgedCookie([], 100_000_000_000_000)]) {
      expect(await reach(ctx.pub, cookie)).toEqual([401, 401]);
      const deleted = await ctx.pub.app.inject({
        method: 'DELETE',
        url: '/v1/users/u1',
        headers: { cookie, 'x-herald-dashboard': '1' },
      });
      expect(deleted.statusCode).toBe(401);
    }
  });

  it('signing in makes a random id kept in Redis for 8 hours; the cookie carries only that id', async () => {
    const cookie = await signIn(ctx.pub);
    const id = cookie.split('=')[1]!;
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = await ctx.pub.admin.keys(ctx.pub.keys.dashboardSession('*'));
    expect(stored).toEqual([ctx.pub.keys.dashboardSession(createHash('sha256').update(id).digest('hex'))]);
    const ttl = await ctx.pub.admin.pttl(stored[0]!);
    expect(ttl).toBeGreaterThan(8 * 3600 * 1000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(8 * 3600 * 1000);
    // Two sign-ins are two sessions, not one guessable value.
    expect(await signIn(ctx.pub)).not.toBe(cookie);
  });

  it('a session grants exactly the admin role; a request that changes something needs the header', async () => {
    const cookie = await signIn(ctx.pub);
    expect(await reach(ctx.pub, cookie)).toEqual([200, 404]);
    const withoutHeader = await ctx.pub.app.inject({
      method: 'POST',
      url: '/v1/groups/email/replay',
      headers: { cookie },
      payload: { from: '0' },
    });
    expect(withoutHeader.statusCode).toBe(403);
    const withHeader = await ctx.pub.app.inject({
      method: 'POST',
      url: '/v1/groups/email/replay',
      headers: { cookie, 'x-herald-dashboard': '1' },
      payload: { from: '0' },
    });
    expect(withHeader.statusCode).toBe(200);
  });

  it('signing out ends the session everywhere: the same cookie is refused afterwards', async () => {
    const cookie = await signIn(ctx.pub);
    expect((await reach(ctx.pub, cookie))[0]).toBe(200);
    const out = await ctx.pub.app.inject({ method: 'DELETE', url: '/dashboard/session', headers: { cookie } });
    expect(out.statusCode).toBe(204);
    expect(await reach(ctx.pub, cookie)).toEqual([401, 401]);
    const state = await ctx.pub.app.inject({ method: 'GET', url: '/dashboard/session', headers: { cookie } });
    expect(state.json()).toMatchObject({ signedIn: false });
  });

  it('an expired session (its Redis key gone) is refused', async () => {
    const cookie = await signIn(ctx.pub);
    for (const key of await ctx.pub.admin.keys(ctx.pub.keys.dashboardSession('*'))) await ctx.pub.admin.pexpire(key, 1);
    await expect.poll(() => ctx.pub.admin.keys(ctx.pub.keys.dashboardSession('*'))).toEqual([]);
    expect(await reach(ctx.pub, cookie)).toEqual([401, 401]);
  });

  it('rotating the admin keys ends every session', async () => {
    const cookie = await signIn(ctx.pub);
    await ctx.restart({ HERALD_API_KEYS: 'pk', HERALD_ADMIN_KEYS: 'ak2' }, { keepData: true });
    expect(await reach(ctx.pub, cookie)).toEqual([401, 401]);
    // Adding a key is a rotation too: every session made under the old set ends.
    const second = await signIn(ctx.pub, 'ak2');
    expect((await reach(ctx.pub, second))[0]).toBe(200);
    await ctx.restart({ HERALD_API_KEYS: 'pk', HERALD_ADMIN_KEYS: 'ak2,ak3' }, { keepData: true });
    expect(await reach(ctx.pub, second)).toEqual([401, 401]);
  });

  it('with no admin key there is no sign-in and no cookie is accepted', async () => {
    await ctx.restart({ HERALD_API_KEYS: 'pk', HERALD_ADMIN_KEYS: '' });
    const signInAttempt = await ctx.pub.app.inject({
      method: 'POST',
      url: '/dashboard/session',
      payload: { key: 'pk' },
    });
    expect(signInAttempt.statusCode).toBe(403);
    expect(signInAttempt.json().error.message).toContain('HERALD_ADMIN_KEYS');
    expect(signInAttempt.headers['set-cookie']).toBeUndefined();
    // The constant secret the old code derived from an empty list of admin keys.
    expect(await reach(ctx.pub, forgedCookie([], Date.now() + 3_600_000))).toEqual([401, 401]);
    const state = await ctx.pub.app.inject({ method: 'GET', url: '/dashboard/session' });
    expect(state.json()).toEqual({ signedIn: false, open: false, canSignIn: false });
  });

  it("signing in again replaces the session; a session spends its admin key's budget", async () => {
    await ctx.restart({ HERALD_RATE_LIMIT: '4' });
    const first = await signIn(ctx.pub);
    const headers = { cookie: first };
    const second = (
      await ctx.pub.app.inject({ method: 'POST', url: '/dashboard/session', headers, payload: { key: 'ak' } })
    ).headers['set-cookie'];
    expect(await reach(ctx.pub, first)).toEqual([401, 401]);
    const cookie = String(second).split(';')[0]!;
    expect(await ctx.pub.admin.keys(ctx.pub.keys.dashboardSession('*'))).toHaveLength(1);
    // The key's own requests and the session's draw on one budget of 4 a minute.
    for (let i = 0; i < 3; i++)
      expect(
        (await ctx.pub.app.inject({ method: 'GET', url: '/v1/groups', headers: { authorization: 'Bearer ak' } }))
          .statusCode,
      ).toBe(200);
    expect((await ctx.pub.app.inject({ method: 'GET', url: '/v1/groups', headers: { cookie } })).statusCode).toBe(200);
    expect((await ctx.pub.app.inject({ method: 'GET', url: '/v1/groups', headers: { cookie } })).statusCode).toBe(429);
  });

  it('a publish key cannot sign in', async () => {
    const res = await ctx.pub.app.inject({ method: 'POST', url: '/dashboard/session', payload: { key: 'pk' } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(await ctx.pub.admin.keys(ctx.pub.keys.dashboardSession('*'))).toEqual([]);
  });
});
