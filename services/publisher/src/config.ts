import { isIP } from 'node:net';
import { z } from 'zod';
import { commonEnv, envInt, envList } from '@herald/shared';
import { parseScopedKey } from './user-scope.js';

/** The publisher's environment. Defaults are documented in the README's configuration table. */
export const publisherEnv = {
  ...commonEnv,
  /** HTTP port. Default 3000. */
  PORT: envInt(3000, 0, 65535),
  /** Interface to listen on. Default 127.0.0.1; a non-loopback HOST needs API keys. */
  HOST: z.string().trim().default('127.0.0.1'),
  /**
   * Publish keys (comma list), each `key` (every user) or `key:pattern`, scoped to the user ids the
   * pattern matches, `*` standing for any run of characters (`acme-*`).
   */
  HERALD_API_KEYS: envList().superRefine((list, ctx) => {
    for (const entry of list) {
      const parsed = parseScopedKey(entry);
      if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
    }
  }),
  /** Admin keys (comma list): every route, every user; also accepted wherever a publish key is. */
  HERALD_ADMIN_KEYS: envList().superRefine((list, ctx) => {
    if (list.some((key) => key.includes(':'))) {
      ctx.addIssue({
        code: 'custom',
        message:
          'an admin key takes no scope (it reaches every user): drop the ":pattern", ' +
          'or give the scope to a publish key in HERALD_API_KEYS',
      });
    }
  }),
  /**
   * Secrets that sign user tokens (comma list, each at least 32 characters): the first signs, any
   * verifies, so a new one goes first and an old one is dropped once its tokens have expired.
   * Default none: no user tokens.
   */
  HERALD_USER_TOKEN_SECRETS: envList().refine((list) => list.every((secret) => secret.length >= 32), {
    message: 'each secret needs at least 32 characters (openssl rand -base64 32 makes one)',
  }),
  /** How long a user token is good for, in seconds. Default 900. */
  HERALD_USER_TOKEN_TTL_S: envInt(900, 60, 86400),
  /**
   * Most notification records one API key may hold at once (per client address without keys):
   * a record lives as long as its status is kept (the longer of HERALD_IDEMPOTENCY_TTL_S and
   * HERALD_RETENTION_S). Beyond it, 429. Default 0: no cap.
   */
  HERALD_MAX_RECORDS_PER_KEY: envInt(0, 0, 1_000_000_000),
  /** How long a notification id deduplicates, in seconds. Default 86400. */
  HERALD_IDEMPOTENCY_TTL_S: envInt(86400, 1),
  /** Approximate cap on the stream's length (XADD MAXLEN ~), the memory safety valve. Default 1000000. */
  HERALD_STREAM_MAXLEN: envInt(1_000_000, 1000),
  /** Where the local stand-ins show what they received (set by `npm start`), for the dashboard. */
  HERALD_OUTBOX_URL: z.string().trim().url('expected an http URL').optional(),
  /** How long a Redis command may take before the request answers 503, in ms. Default 1000. */
  HERALD_REDIS_TIMEOUT_MS: envInt(1000, 50, 60_000),
  /**
   * Budget per minute per API key (per client address when no key is configured, per user for
   * user tokens), shared by every replica through Redis; beyond it 429 with Retry-After. A request
   * counts 1; a batch counts each notification, plus 1 for each 64 KiB of body beyond the first.
   * Default 6000; 0 turns it off.
   */
  HERALD_RATE_LIMIT: envInt(6000, 0, 10_000_000),
  /**
   * Proxies in front of the publisher (comma list of addresses and CIDR ranges) whose
   * X-Forwarded-For names the client: the per-address rate limit then counts each client, not
   * the proxy. Default none: the header is ignored, so no client can claim another's address.
   */
  HERALD_TRUSTED_PROXIES: envList().superRefine((list, ctx) => {
    for (const entry of list)
      if (!isAddressOrRange(entry))
        ctx.addIssue({ code: 'custom', message: `"${entry}" is not an IP address or CIDR range` });
  }),
  /**
   * How long a request may take to arrive in full, head and body, in ms; past it the answer is
   * 408 HERALD_ERR_REQUEST_TIMEOUT and the connection is closed. Default 10000: a 1 MiB batch
   * then needs about 100 KiB/s. A live stream's request is complete once its head is in, so this
   * never cuts the stream itself.
   */
  HERALD_BODY_TIMEOUT_MS: envInt(10_000, 100, 600_000),
  /**
   * Most connections held open at once (Node's server.maxConnections); a connection beyond it is
   * closed as soon as it is made, without an answer. Default 1000: a publisher behind a load
   * balancer sees that balancer's pooled connections (tens), upstream apps with keep-alive pools
   * a few hundred; 1000 leaves that room and keeps what slow or idle clients can hold to a
   * twentieth of the file handles a process may open here (`ulimit -n` 20000; Node raises its
   * soft limit to the hard one), with room left for Redis connections (one per live stream).
   */
  HERALD_MAX_CONNECTIONS: envInt(1000, 1, 1_000_000),
  /**
   * Most live streams (`GET /v1/stream`) open at once in this process; beyond it 429. Default
   * 100: each holds a Redis connection of its own (Redis allows 10000 clients by default, shared
   * with every replica and worker) and an HTTP connection; the streams are for people watching
   * (the CLI's `tail`), not for services.
   */
  HERALD_MAX_STREAMS: envInt(100, 1, 10_000),
  /**
   * Most live streams open at once per API key (per client address without keys), in this
   * process; beyond it 429. Default 10: a few terminals and tabs per person, while a script that
   * reconnects without closing cannot take every stream the process allows.
   */
  HERALD_MAX_STREAMS_PER_KEY: envInt(10, 1, 10_000),
};

/** `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8`. */
function isAddressOrRange(text: string): boolean {
  const [address, bits, ...rest] = text.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

export type PublisherConfig = z.output<z.ZodObject<typeof publisherEnv>>;
