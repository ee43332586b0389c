import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { PAGE_HEADERS } from '../page-headers.js';

const file = (name: string) => readFileSync(new URL(`../demo/${name}`, import.meta.url), 'utf8');
const PAGE = file('index.html');
const SCRIPT = file('app.js');
const WORKER = file('sw.js');

/**
 * `/demo`: a page and a service worker that subscribe a real browser with the publisher's VAPID
 * public key and register the subscription for a user, so a push sent by Herald shows up as a
 * system notification. Static files only; the API calls it makes are the ordinary ones.
 */
export function pushDemoRoutes(app: FastifyInstance): void {
  const open = { config: { public: true } };
  const page = async (_request: unknown, reply: import('fastify').FastifyReply) =>
    reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(PAGE);
  app.get('/demo', open, page);
  app.get('/demo/', open, page);
  app.get('/demo/app.js', open, async (_request, reply) =>
    reply.headers(PAGE_HEADERS).type('text/javascript; charset=utf-8').send(SCRIPT),
  );
  app.get('/demo/sw.js', open, async (_request, reply) =>
    reply.headers(PAGE_HEADERS).type('text/javascript; charset=utf-8').send(WORKER),
  );
}
