import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import type { Redis } from 'ioredis';
import { HeraldError, Scripts, makeKeys, type Keys, type Logger } from '@herald/shared';
import { KeyRing, type Role } from './auth.js';
import type { PublisherConfig } from './config.js';
import { limitConnections, requestDeadlines } from './connection-limits.js';
import { clientErrorHandler, refuseConnect, sendError } from './http-errors.js';
import { useExplainedJsonParser } from './json-body.js';
import { refuseForeignHost } from './loopback-host.js';
import { PublisherMetrics } from './metrics.js';
import { Publisher } from './publisher.js';
import { RecordQuota } from './record-quota.js';
import { RequestLimiter } from './request-limiter.js';
import { useAccessControl, type SpendBudget } from './access-control.js';
import { Authenticator } from './authenticate.js';
import { DashboardSessions } from './dashboard/session.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { UserTokens } from './user-tokens.js';
import { deadLetterRoutes } from './routes/dead-letters.js';
import { pushDemoRoutes } from './routes/push-demo.js';
import { groupRoutes } from './routes/groups.js';
import { healthRoutes } from './routes/health.js';
import { liveStreamRoutes } from './routes/live-stream.js';
import { notificationRoutes } from './routes/notifications.js';
import { pushRoutes } from './routes/push-subscriptions.js';
import { userRoutes } from './routes/users.js';
import { userTokenRoutes } from './routes/user-tokens.js';

/** Request body limits, in bytes. */
export const BODY_LIMIT = 64 * 1024;
export const BATCH_BODY_LIMIT = 1024 * 1024;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a route needs; default `publish`. */
    role?: Role;
    /** A user token may use it too, for its own user (the browser's routes). */
    userToken?: boolean;
    /** Open without a key (health, metrics, static pages, the dashboard's sign-in). */
    public?: boolean;
    /** Outside the rate limit, HERALD_RATE_LIMIT (health and metrics: probes must always get through). */
    unlimited?: boolean;
  }
}

/** What the routes share. */
export interface AppContext {
  config: PublisherConfig;
  redis: Redis;
  keys: Keys;
  /** The Lua scripts, on `redis`. */
  scripts: Scripts;
  publisher: Publisher;
  metrics: PublisherMetrics;
  /** Charge a request more of its caller's budget (a batch counts each notification). */
  spendBudget: SpendBudget;
  /** HERALD_MAX_RECORDS_PER_KEY. */
  records: RecordQuota;
  /** User tokens (HERALD_USER_TOKEN_SECRETS). */
  tokens: UserTokens;
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
    // The assertion is what makes Fastify's instance type use FastifyBaseLogger rather than pino's
    // Logger (the routes take a plain FastifyInstance); the rule reads it as changing nothing.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request lines would dominate the logs at thousands of requests a second; errors are logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Ids and user ids are up to 128 characters, up to 3 bytes each once percent-encoded.
    routerOptions: { maxParamLength: 3 * 128 },
    return503OnClosing: true,
    // request.ip: the socket's address, or X-Forwarded-For's client when the socket is a trusted proxy.
    trustProxy: config.HERALD_TRUSTED_PROXIES.length > 0 ? config.HERALD_TRUSTED_PROXIES : false,
    frameworkErrors: (err, request, reply) => {
      sendError(err, request, reply);
    },
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
  const scripts = new Scripts(redis, keys);
  const recordTtlS = Math.max(config.HERALD_IDEMPOTENCY_TTL_S, config.HERALD_RETENTION_S);
  const keyRing = new KeyRing(config.HERALD_API_KEYS, config.HERALD_ADMIN_KEYS);
  const sessions = new DashboardSessions(redis, keys, config.HERALD_ADMIN_KEYS);
  const tokens = new UserTokens(config.HERALD_USER_TOKEN_SECRETS, config.HERALD_USER_TOKEN_TTL_S);
  const authenticator = new Authenticator(keyRing, tokens, sessions);
  const limiter = new RequestLimiter({
    redis,
    scripts,
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

  const context: AppContext = {
    config,
    redis,
    keys,
    scripts,
    metrics: new PublisherMetrics(redis, keys),
    publisher: new Publisher({
      scripts,
      idempotencyTtlS: config.HERALD_IDEMPOTENCY_TTL_S,
      recordTtlS,
      streamMaxLen: config.HERALD_STREAM_MAXLEN,
    }),
    spendBudget: useAccessControl(app, authenticator, limiter, config.HERALD_RATE_LIMIT),
    records: new RecordQuota({ scripts, maxRecords: config.HERALD_MAX_RECORDS_PER_KEY, recordTtlS }),
    tokens,
  };

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
    sendError(
      new HeraldError('HERALD_ERR_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`),
      request,
      reply,
    ),
  );

  healthRoutes(app, context);
  notificationRoutes(app, context);
  userRoutes(app, context);
  pushRoutes(app, context);
  groupRoutes(app, context);
  deadLetterRoutes(app, context);
  liveStreamRoutes(app, context);
  dashboardRoutes(app, keyRing, sessions, config.HERALD_OUTBOX_URL);
  userTokenRoutes(app, context);
  pushDemoRoutes(app);
  return app;
}
