import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HeraldError } from '@herald/shared';
import type { KeyRing } from '../auth.js';
import { SESSION_COOKIE, SESSION_TTL_MS, readCookie, type DashboardSessions } from '../dashboard/session.js';
import { PAGE_HEADERS } from '../page-headers.js';

const PAGE = readFileSync(new URL('../dashboard/index.html', import.meta.url), 'utf8');
const SCRIPT = readFileSync(new URL('../dashboard/app.js', import.meta.url), 'utf8');

/**
 * `/dashboard`, for admins: a page that signs in with an admin key (the key is posted once and
 * traded for a server-side session whose random id travels in an HttpOnly, SameSite=Strict
 * cookie; never a key in a URL), then shows the channels, recent notifications and dead letters,
 * polling the API with that cookie. With no keys configured at all it is open, like the API
 * (which then serves on loopback only); with keys but no admin key nobody can sign in.
 */
export function dashboardRoutes(
  app: FastifyInstance,
  keyRing: KeyRing,
  sessions: DashboardSessions,
  outboxUrl?: string,
): void {
  const open = { config: { public: true } };
  const sessionOf = (request: FastifyRequest) => readCookie(request.headers.cookie, SESSION_COOKIE);

  app.get('/dashboard', open, async (_request, reply) =>
    reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(PAGE),
  );
  app.get('/dashboard/app.js', open, async (_request, reply) =>
    reply.headers(PAGE_HEADERS).type('text/javascript; charset=utf-8').send(SCRIPT),
  );

  app.get('/dashboard/session', open, async (request) => ({
    signedIn: keyRing.open || (await sessions.check(sessionOf(request))) !== undefined,
    open: keyRing.open,
    canSignIn: sessions.enabled,
  }));

  app.post<{ Body: { key?: unknown } }>('/dashboard/session', open, async (request, reply) => {
    if (keyRing.open) return { signedIn: true };
    if (!sessions.enabled) {
      throw new HeraldError(
        'HERALD_ERR_FORBIDDEN',
        'No admin key is configured (HERALD_ADMIN_KEYS), so nobody can sign in to the dashboard',
      );
    }
    const key = typeof request.body?.key === 'string' ? request.body.key : '';
    const admin = keyRing.find(key);
    if (admin?.role !== 'admin') throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'That is not an admin key');
    // Signing in again replaces this browser's session rather than adding one beside it.
    await sessions.end(sessionOf(request));
    const secure = request.protocol === 'https' ? '; Secure' : '';
    reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${await sessions.create(admin.caller)}; ` +
        `HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}${secure}`,
    );
    return { signedIn: true };
  });

  // What the local stand-ins received (with `npm start`); admin, like the rest of the data.
  app.get('/dashboard/outbox', { config: { role: 'admin' } }, async () => {
    if (!outboxUrl) return { available: false };
    try {
      const res = await fetch(outboxUrl, { signal: AbortSignal.timeout(2000) });
      return { available: true, ...((await res.json()) as object) };
    } catch {
      return { available: false };
    }
  });

  // Signing out ends the session in Redis, not only in this browser: a copied cookie dies with it.
  app.delete('/dashboard/session', open, async (request, reply) => {
    await sessions.end(sessionOf(request));
    return reply
      .header('set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`)
      .code(204)
      .send();
  });
}
