import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type RouteOptions } from 'fastify';
import type { Redis } from 'ioredis';
import { HeraldError, makeKeys, type Keys, type Logger } from '@herald/shared';
import { KeyRing, type Role } from './auth.js';
import type { PublisherConfig } from './config.js';
import { limitConnections, requestDeadlines } from './connection-limits.js';
import { clientErrorHandler, refuseConnect, sendError } from './http-errors.js';
import { useExplainedJsonParser } from './json-body.js';
import { refuseForeignHost } from './loopback-host.js';
import { PublisherMetrics } from './metrics.js';
import { Publisher } from './publisher.js';
import { RequestLimiter } from './request-limiter.js';
import { SESSION_COOKIE, readCookie } from './dashboard/session.js';
import { DashboardSessions, dashboardRoutes } from './routes/dashboard.js';
import { deadLetterRoutes } from './routes/dead-letters.js';
import { pushDemoRoutes } from './routes/push-demo.js';
import { groupRoutes } from './routes/groups.js';
import { healthRoutes } from './routes/health.js';
import { liveStreamRoutes } from './routes/live-stream.js';
import { notificationRoutes } from './routes/notifications.js';
import { pushRoutes } from './routes/push-subscriptions.js';
import { userRoutes } from './routes/users.js';

/** Request body limits, in bytes. */
export const BODY_LIMIT = 64 * 1024;
export const BATCH_BODY_LIMIT = 1024 * 1024;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a route needs; default `publish`. */
    role?: Role;
    /** Open without a key (health, metrics, static pages, the dashboard's sign-in). */
    public?: boolean;
    /** Outside the rate limit, HERALD_RATE_LIMIT (health and metrics: probes must always get through). */
    unlimited?: boolean;
  }
  interface FastifyRequest {
    /**
     * Who is asking, as the rate limit counts them: `key:<key id>`, `session:<id>`, or
     * `ip:<address>` (public routes, a publisher without keys). Set by the onRequest hook.
     */
    caller: string;
  }
}

/** What the routes share. */
export interface AppContext {
  config: PublisherConfig;
  redis: Redis;
  keys: Keys;
  publisher: Publisher;
  metrics: PublisherMetrics;
}

export interface BuildAppOptions {
  config: PublisherConfig;
  /** A connection made with connectRedis(..., {failFast: true}); the app does not close it. */
  redis: Redis;
  logger: Logger;
  /** Called for every route as it is registered (tests derive the list of routes from it). */
  onRoute?: (route: RouteOptions) => void;
}

/** The publisher's HTTP app, ready to `listen()` or `inject()`. */
export function buildApp({ config, redis, logger, onRoute }: BuildAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request lines would dominate the logs at thousands of requests a second; errors are logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Ids and user ids are up to 128 characters, up to 3 bytes each once percent-encoded.
    routerOptions: { maxParamLength: 3 * 128 },
    return503OnClosing: true,
    // request.ip: the socket's address, or X-Forwarded-For's client when the socket is a trusted proxy.
    trustProxy: config.HERALD_TRUSTED_PROXIES.length > 0 ? config.HERALD_TRUSTED_PROXIES : false,
    frameworkErrors: (err, request, reply) => sendError(err, request, reply),
    clientErrorHandler,
    // A request must arrive in full within HERALD_BODY_TIMEOUT_MS, or 408 (see connection-limits.ts).
    requestTimeout: config.HERALD_BODY_TIMEOUT_MS,
    http: {
      // Node would refuse an HTTP/1.1 request without Host itself, with an empty body; the onRequest
      // hook below refuses it in Herald's error shape instead (RFC 9112 section 3.2 wants a 400).
      requireHostHeader: false,
      ...requestDeadlines(config.HERALD_BODY_TIMEOUT_MS),
    },
  });
  limitConnections(app, config);
  if (onRoute) app.addHook('onRoute', onRoute);
  // Two answers Node would give itself, outside Herald's error shape: 417 with no body for an
  // Expect other than 100-continue (RFC 9110 lets a server ignore it instead, as Node's own
  // checkContinue default does), and a dropped connection for CONNECT.
  app.server.on('checkExpectation', (req, res) => app.server.emit('request', req, res));
  app.server.on('connect', refuseConnect);
  const keys = makeKeys(config);
  const context: AppContext = {
    config,
    redis,
    keys,
    metrics: new PublisherMetrics(redis, keys),
    publisher: new Publisher({
      redis,
      keys,
      idempotencyTtlS: config.HERALD_IDEMPOTENCY_TTL_S,
      recordTtlS: Math.max(config.HERALD_IDEMPOTENCY_TTL_S, config.HERALD_RETENTION_S),
      streamMaxLen: config.HERALD_STREAM_MAXLEN,
    }),
  };
  const keyRing = new KeyRing(config.HERALD_API_KEYS, config.HERALD_ADMIN_KEYS);
  const sessions = new DashboardSessions(config.HERALD_ADMIN_KEYS);
  const limiter = new RequestLimiter({
    redis,
    keyOf: keys.requestBudget,
    perMinute: config.HERALD_RATE_LIMIT,
    // A hung Redis delays the route's own 503 by at most this much (see RequestLimiter).
    deadlineMs: Math.min(250, config.HERALD_REDIS_TIMEOUT_MS),
    logger,
  });

  // JSON only: Fastify's built-in text/plain parser would let a non-JSON body through.
  app.removeContentTypeParser('text/plain');
  useExplainedJsonParser(app);

  // Without keys, only requests addressed to this machine (DNS rebinding: see loopback-host.ts).
  if (keyRing.open) app.addHook('onRequest', refuseForeignHost);

  // Every route needs a key unless it says it is public: deciding on the matched route, not on
  // the raw URL, so no spelling of a path (`/%761/...`) gets past it. Unknown paths need one too.
  app.decorateRequest('caller', '');
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      throw new HeraldError('HERALD_ERR_VALIDATION', 'An HTTP/1.1 request needs a Host header');
    }
    const config = request.routeOptions.config;
    // HERALD_RATE_LIMIT counts per API key, never per the key's text (see KeyRing.authorize);
    // public routes, a dashboard session and a publisher without keys count per client address.
    let caller: string | undefined;
    if (config.public) {
      // No key needed.
    } else if (!request.headers.authorization && !keyRing.open && sessions.valid(readCookie(request.headers.cookie, SESSION_COOKIE))) {
      // The dashboard's session cookie stands for an admin key. Besides SameSite=Strict, a request
      // that changes something must carry a header no other site's form or link can add.
      if (request.method !== 'GET' && request.headers['x-herald-dashboard'] !== '1') {
        throw new HeraldError('HERALD_ERR_FORBIDDEN', 'Dashboard requests that change something must carry x-herald-dashboard: 1');
      }
    } else {
      try {
        const keyId = keyRing.authorize(request.headers.authorization, config.role ?? 'publish');
        if (keyId) caller = `key:${keyId}`;
      } catch (refusal) {
        // A refused key is charged to the address it came from, so guessing keys is limited like
        // any other traffic; a real key from the same address keeps its own budget.
        if (!config.unlimited) await spendBudget(`ip:${request.ip}`, reply);
        throw refusal;
      }
    }
    request.caller = caller ?? `ip:${request.ip}`;
    if (config.unlimited) return;
    await spendBudget(request.caller, reply);
  });

  /** Count one request against `caller`'s HERALD_RATE_LIMIT; past it, answer 429 with Retry-After. */
  async function spendBudget(caller: string, reply: FastifyReply): Promise<void> {
    const decision = await limiter.spend(caller);
    if (!decision.allowed) {
      reply.header('retry-after', String(decision.retryAfterS));
      throw new HeraldError(
        'HERALD_ERR_RATE_LIMITED',
        `Too many requests: more than ${context.config.HERALD_RATE_LIMIT} a minute (HERALD_RATE_LIMIT); retry after ${decision.retryAfterS} s`,
      );
    }
  }

  app.addHook('onResponse', async (request, reply) => {
    context.metrics.requestDuration
      .labels(request.method, request.routeOptions.url ?? 'unmatched', String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
  });

  // While stopping, answers to requests in flight close their connection, so a keep-alive
  // client does not hold the server open after its last answer.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(new HeraldError('HERALD_ERR_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`), request, reply),
  );

  healthRoutes(app, context);
  notificationRoutes(app, context);
  userRoutes(app, context);
  pushRoutes(app, context);
  groupRoutes(app, context);
  deadLetterRoutes(app, context);
  liveStreamRoutes(app, context);
  dashboardRoutes(app, keyRing, sessions, config.HERALD_OUTBOX_URL);
  pushDemoRoutes(app);
  return app;
}
