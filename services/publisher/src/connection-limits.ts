import type { FastifyInstance } from 'fastify';
import type { PublisherConfig } from './config.js';

/**
 * Node's options for HERALD_BODY_TIMEOUT_MS. Fastify sets `requestTimeout` again after making the
 * server, from its own option of that name (default 0: none), so app.ts passes it there too.
 * - `headersTimeout` no larger: Node 20 lets a body trickle past `requestTimeout` for ever while
 *   `headersTimeout` (default 60 s) is larger (seen here: no 408 after 4 s of a 1 s deadline);
 *   and when making the server Node refuses a `headersTimeout` above its `requestTimeout`.
 * - `connectionsCheckingInterval`: Node looks for requests past their deadline only this often
 *   (30 s by default, so a 10 s deadline could hold for 40 s); half the deadline, at most a
 *   second, keeps it within about a second. A check walks only requests still arriving.
 */
export function requestDeadlines(bodyTimeoutMs: number): {
  requestTimeout: number;
  headersTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    requestTimeout: bodyTimeoutMs,
    headersTimeout: bodyTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(bodyTimeoutMs / 2))),
  };
}

/**
 * What a slow or wide client may hold (issue 12): at most HERALD_MAX_CONNECTIONS connections,
 * and none past the answer to a request refused before its body was read. Such a request (no
 * key, a full rate limit, a publish key on an admin route) is answered from the onRequest hooks
 * while the client may still be sending; Node would keep the connection for the next request,
 * reading and discarding the body for as long as the client trickles it: 1000 such sockets held
 * 1000 file handles past 75 s. Its answer says Connection: close, and Node ends the socket once
 * the answer is written. A request that arrived in full keeps its connection, refused or not.
 * The deadline for the rest (HERALD_BODY_TIMEOUT_MS) is Fastify's `requestTimeout`, set in app.ts.
 */
export function limitConnections(app: FastifyInstance, config: PublisherConfig): void {
  app.server.maxConnections = config.HERALD_MAX_CONNECTIONS;
  // A callback hook: it runs on every answer, and a promise each would cost more than the check.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (!request.raw.complete) reply.header('connection', 'close');
    done(null, payload);
  });
}
