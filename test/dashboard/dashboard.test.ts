import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';

/** The browser's own global, as page.evaluate sees it (the tests type-check without DOM types). */
declare const navigator: { serviceWorker: { ready: Promise<{ scope: string }> } };

/** The dashboard in a real headless Chromium (Debian's, installed by .ci/run; never downloaded). */
let stack: TestStack;
let browser: Browser;
let base: string;

beforeAll(async () => {
  stack = await startStack({ HERALD_API_KEYS: 'pk', HERALD_ADMIN_KEYS: 'ak' });
  base = await stack.pub.listen();
  await stack.spawnWorker('email');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
}, 90_000);
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** Everything the page reports as an error: console errors and uncaught exceptions. */
function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

describe('dashboard', () => {
  it('signs in with an admin key into an HttpOnly, SameSite=Strict cookie and shows a published notification delivered', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = consoleErrors(page);

    await page.goto(`${base}/dashboard`);
    await page.locator('#signin').waitFor({ state: 'visible' });
    expect(page.url()).not.toContain('ak');
    await page.fill('#key', 'ak');
    await page.click('#signin-form button');
    await page.locator('#app').waitFor({ state: 'visible' });

    // The browser's cookie store is read over CDP, which can lag the page under load: wait for it.
    const cookie = await waitFor(async () => (await context.cookies()).find((c) => c.name === 'herald_session'), {
      what: 'the session cookie in the browser',
    });
    expect(cookie).toMatchObject({ name: 'herald_session', httpOnly: true, sameSite: 'Strict' });
    expect(cookie.value).not.toContain('ak');

    const res = await fetch(`${base}/v1/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer pk' },
      body: JSON.stringify({
        id: 'dash-1',
        userId: 'u',
        type: 'otp',
        body: 'Code 1',
        channels: ['email'],
        to: { email: 'dash@example.com' },
      }),
    });
    expect(res.status).toBe(202);
    // The page polls every 2 s: the row appears, then its email cell turns delivered.
    await page
      .locator('#recent tr', { hasText: 'dash-1' })
      .locator('.state-delivered')
      .first()
      .waitFor({ timeout: 20_000 });
    await page.locator('#groups tr', { hasText: 'email' }).waitFor();
    expect(errors).toEqual([]);
    await context.close();
  });

  it('serves the push demo, which loads without errors and registers its service worker', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = consoleErrors(page);
    await page.goto(`${base}/demo/`);
    // Headless Chromium has no push service to subscribe with; the worker's registration is what can be checked.
    const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
    expect(scope).toBe(`${base}/demo/`);
    await page.locator('#log', { hasText: 'Service worker registered' }).waitFor();
    expect(errors).toEqual([]);
    await context.close();
  });

  it('takes only admin keys, and a cookie session cannot change anything without the dashboard header', async () => {
    const publishKey = await stack.pub.app.inject({
      method: 'POST',
      url: '/dashboard/session',
      payload: { key: 'pk' },
    });
    expect(publishKey.statusCode).toBe(401);
    const admin = await stack.pub.app.inject({ method: 'POST', url: '/dashboard/session', payload: { key: 'ak' } });
    const cookie = String(admin.headers['set-cookie']).split(';')[0]!;
    expect((await stack.pub.app.inject({ method: 'GET', url: '/v1/groups', headers: { cookie } })).statusCode).toBe(
      200,
    );
    const forged = await stack.pub.app.inject({
      method: 'POST',
      url: '/v1/groups/email/replay',
      headers: { cookie },
      payload: { from: '0' },
    });
    expect(forged.statusCode).toBe(403);
    expect(
      (
        await stack.pub.app.inject({
          method: 'GET',
          url: '/v1/groups',
          headers: { cookie: 'herald_session=9999999999999.forged' },
        })
      ).statusCode,
    ).toBe(401);
  });
});
