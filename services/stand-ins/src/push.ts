import { createECDH, createPublicKey, randomBytes, randomUUID, verify, type ECDH, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import ece from 'http_ece';
import { generate } from 'selfsigned';
import { Arrivals } from './arrivals.js';
import { ScriptedFailures } from './scripted-failures.js';

/** One push message the stand-in accepted and decrypted. */
export interface ReceivedPush {
  /** The subscription's endpoint it was sent to. */
  endpoint: string;
  /** The decrypted payload as UTF-8; '' for a push without payload. */
  payload: string;
  /** `JSON.parse(payload)`, or undefined when the payload is not JSON. */
  json: unknown;
  /** The `TTL` header, seconds. */
  ttl: number;
  /** The `Topic` header, when sent. */
  topic?: string;
  /** The `Urgency` header, when sent (web-push always sends one, `normal` by default). */
  urgency?: string;
  /** The application server's VAPID public key (the `k` of the Authorization header), base64url. */
  vapidPublicKey: string;
  /** Milliseconds since the epoch. */
  receivedAt: number;
}

/** A browser's `PushSubscription.toJSON()`, as an app would post it to Herald. */
export interface StandInSubscription {
  /** `https://127.0.0.1:<port>/push/<random id>`. */
  endpoint: string;
  expirationTime: null;
  keys: {
    /** The subscription's P-256 public key, 65 bytes uncompressed, base64url. */
    p256dh: string;
    /** 16 random bytes, base64url. */
    auth: string;
  };
}

export interface PushStandInOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /**
   * The name others reach it by (in endpoints, the VAPID audience and the certificate), when it
   * is not 127.0.0.1: `stand-ins` in docker-compose, say.
   */
  publicHost?: string;
  /**
   * The application server key the subscriptions were made with (base64url). When set, pushes
   * signed with another VAPID key are answered 403, as a real push service does.
   */
  vapidPublicKey?: string;
}

export interface PushRespondWithOptions {
  /** How many requests get this answer. Default: every matching request until `reset()`. */
  count?: number;
  /** Only requests to this subscription endpoint; rules for one endpoint win over general ones. */
  endpoint?: string;
  /** Adds `Retry-After: <seconds>` to the answer. */
  retryAfterS?: number;
}

/**
 * A Web Push service (RFC 8030) over HTTPS that checks VAPID (RFC 8292), decrypts aes128gcm
 * payloads (RFC 8291) with subscriptions it made itself, and keeps what arrived. The real
 * `web-push` SDK sends to it unchanged; it only has to trust `caCertPem` (in process:
 * `agent: trustAgent()`; another process: `NODE_EXTRA_CA_CERTS=<caCertPath>`).
 */
export interface PushStandIn {
  readonly port: number;
  /** `https://127.0.0.1:<port>`, the `aud` every VAPID JWT must carry. */
  readonly origin: string;
  /** The server's self-signed certificate (PEM), for `localhost` and 127.0.0.1. */
  readonly caCertPem: string;
  /** The same PEM in a temporary file (removed by `close()`), for `NODE_EXTRA_CA_CERTS`. */
  readonly caCertPath: string;
  /** A new browser-like subscription on this service. */
  createSubscription(): StandInSubscription;
  /** Accepted pushes, oldest first. Cleared in place by `reset()`. */
  readonly received: ReceivedPush[];
  /**
   * Answer the next `count` push requests (optionally only those to `endpoint`) with `status`
   * instead of delivering, e.g. 404/410 (subscription gone), 429, 500. Calls queue up, oldest
   * first, and a request takes a rule for its own endpoint before a rule for every endpoint.
   */
  respondWith(status: number, options?: PushRespondWithOptions): void;
  /**
   * Milliseconds each push request waits before it is handled (a slow push service); 0 by
   * default, settable at any time. The push is still recorded if the client timed out meanwhile.
   */
  delayMs: number;
  /** Forget received pushes and every `respondWith`; `delayMs` back to 0; subscriptions are kept. */
  reset(): void;
  /** Unsubscribe: later pushes to `endpoint` are answered 410 Gone. */
  removeSubscription(endpoint: string): void;
  /** Resolves with all pushes once at least `n` arrived; rejects after `timeoutMs` (default 10 000). */
  waitForPushes(n: number, timeoutMs?: number): Promise<ReceivedPush[]>;
  /** A new `https.Agent` trusting this server, for clients in this process (web-push's `agent`). */
  trustAgent(): Agent;
  /** Stop listening, drop connections, remove the certificate file. Safe to call twice. */
  close(): Promise<void>;
}

interface Subscription {
  ecdh: ECDH;
  authSecret: Buffer;
  removed: boolean;
}

interface Rule {
  status: number;
  endpoint?: string;
  retryAfterS?: number;
}

/** Why a push was refused: the status to answer and the text of the answer. */
class Refusal extends Error {
  override readonly name = 'Refusal';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  410: 'Gone',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** RFC 8030 section 7.2: push services must accept at least 4096 bytes; real ones refuse more. */
const MAX_BODY_BYTES = 4096;
/** RFC 8292 section 2: `exp` must not be more than 24 hours after the request. */
const MAX_JWT_LIFETIME_S = 24 * 60 * 60;
const URGENCIES = new Set(['very-low', 'low', 'normal', 'high']);

/** A P-256 public key from its 65-byte uncompressed point, base64url (VAPID's `k`). */
function publicKeyFromRaw(k: string): KeyObject {
  const raw = Buffer.from(k, 'base64url');
  if (raw.length !== 65 || raw[0] !== 0x04) {
    throw new Refusal(401, 'VAPID k: expected a P-256 public key, 65 bytes uncompressed, base64url');
  }
  try {
    return createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: raw.subarray(1, 33).toString('base64url'),
        y: raw.subarray(33, 65).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    throw new Refusal(401, 'VAPID k: not a point on P-256');
  }
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new Refusal(401, `VAPID JWT: ${what} is not a base64url JSON object`);
}

/**
 * Check `Authorization: vapid t=<JWT>, k=<public key>` (RFC 8292 section 3) and return `k`.
 * Throws a 401 Refusal naming what was wrong.
 */
function checkVapid(authorization: string | undefined, origin: string): string {
  const scheme = /^vapid\s+(.+)$/i.exec(authorization ?? '');
  if (!scheme) throw new Refusal(401, 'missing Authorization: vapid t=<JWT>, k=<public key>');
  const params = new Map<string, string>();
  for (const part of scheme[1]!.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const token = params.get('t');
  const k = params.get('k');
  if (!token || !k) throw new Refusal(401, 'Authorization: vapid needs both t= and k=');

  const parts = token.split('.');
  if (parts.length !== 3) throw new Refusal(401, 'VAPID JWT: expected header.payload.signature');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart, 'header');
  if (header.alg !== 'ES256') throw new Refusal(401, `VAPID JWT: alg must be ES256, got ${String(header.alg)}`);
  const key = publicKeyFromRaw(k);
  const signed = verify(
    'sha256',
    Buffer.from(`${headerPart}.${payloadPart}`),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signaturePart, 'base64url'),
  );
  if (!signed) throw new Refusal(401, 'VAPID JWT: signature does not verify with k');

  const claims = decodeJson(payloadPart, 'payload');
  if (claims.aud !== origin) throw new Refusal(401, `VAPID JWT: aud must be ${origin}, got ${String(claims.aud)}`);
  const nowS = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= nowS)
    throw new Refusal(401, 'VAPID JWT: exp missing or in the past');
  if (claims.exp > nowS + MAX_JWT_LIFETIME_S) throw new Refusal(401, 'VAPID JWT: exp more than 24 hours ahead');
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) {
    throw new Refusal(401, 'VAPID JWT: sub must be a mailto: or https: URI');
  }
  return k;
}

function readBody(req: IncomingMessage): Promise<{ body: Buffer; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.once('end', () => resolve({ body: Buffer.concat(chunks), size }));
    req.once('error', reject);
  });
}

/** Start a Web Push stand-in on 127.0.0.1 with a fresh certificate; resolves once it listens. */
export async function startPushStandIn(options: PushStandInOptions = {}): Promise<PushStandIn> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          ...(options.publicHost && options.publicHost !== '127.0.0.1'
            ? [{ type: 2 as const, value: options.publicHost }]
            : []),
        ],
      },
    ],
  });
  const caCertPem = pems.cert;
  const certDir = mkdtempSync(join(tmpdir(), 'herald-push-stand-in-'));
  const caCertPath = join(certDir, 'ca.pem');
  writeFileSync(caCertPath, caCertPem);

  const subscriptions = new Map<string, Subscription>();
  const arrivals = new Arrivals<ReceivedPush>('push message(s)');
  const rules = new ScriptedFailures<Rule>();
  let origin = '';
  let delayMs = 0;

  function answer(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
    // The shape Mozilla's autopush uses for errors.
    const text = JSON.stringify({ code: status, errno: 999, error: REASONS[status] ?? `HTTP ${status}`, message });
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  }

  /** The scripted answer for a request to `endpoint`: rules for that endpoint first. */
  function takeRule(endpoint: string): Rule | undefined {
    return rules.take((r) => r.endpoint === endpoint) ?? rules.take((r) => r.endpoint === undefined);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    const match = /^\/push\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
    if (!match) {
      req.resume();
      answer(res, 404, `no push resource at ${url.pathname}`);
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      answer(res, 405, 'push with POST', { Allow: 'POST' });
      return;
    }
    const id = match[1]!;
    const endpoint = `${origin}/push/${id}`;
    const { body, size } = await readBody(req);
    if (delayMs > 0) await sleep(delayMs);

    const rule = takeRule(endpoint);
    if (rule) {
      const headers: Record<string, string> =
        rule.retryAfterS === undefined ? {} : { 'Retry-After': String(rule.retryAfterS) };
      answer(res, rule.status, `answered ${rule.status} by respondWith`, headers);
      return;
    }

    const vapidPublicKey = checkVapid(req.headers.authorization, origin);
    if (options.vapidPublicKey !== undefined && vapidPublicKey !== options.vapidPublicKey) {
      throw new Refusal(403, 'VAPID key does not match the key this subscription was created with');
    }
    const subscription = subscriptions.get(id);
    if (!subscription) throw new Refusal(404, `no subscription ${id}`);
    if (subscription.removed) throw new Refusal(410, `subscription ${id} has expired or was unsubscribed`);

    const ttlHeader = req.headers.ttl;
    if (typeof ttlHeader !== 'string' || !/^\d+$/.test(ttlHeader)) {
      throw new Refusal(400, 'TTL header required: a non-negative integer of seconds');
    }
    const urgency = req.headers.urgency;
    if (urgency !== undefined && (typeof urgency !== 'string' || !URGENCIES.has(urgency))) {
      throw new Refusal(400, `Urgency must be one of very-low, low, normal, high; got ${String(urgency)}`);
    }
    const topic = req.headers.topic;
    if (topic !== undefined && (typeof topic !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(topic))) {
      throw new Refusal(400, 'Topic must be 1 to 32 base64url characters');
    }
    if (size > MAX_BODY_BYTES) throw new Refusal(413, `payload is ${size} bytes; at most ${MAX_BODY_BYTES}`);

    let payload = '';
    // A push without payload (no body, no Content-Encoding) is legal and just wakes the worker.
    if (size > 0 || req.headers['content-encoding'] !== undefined) {
      if (req.headers['content-encoding'] !== 'aes128gcm') {
        throw new Refusal(400, `Content-Encoding must be aes128gcm, got ${String(req.headers['content-encoding'])}`);
      }
      try {
        payload = ece
          .decrypt(body, { version: 'aes128gcm', privateKey: subscription.ecdh, authSecret: subscription.authSecret })
          .toString('utf8');
      } catch (err) {
        throw new Refusal(
          400,
          `payload does not decrypt for this subscription: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(payload);
    } catch {
      json = undefined;
    }
    arrivals.push({
      endpoint,
      payload,
      json,
      ttl: Number(ttlHeader),
      ...(topic === undefined ? {} : { topic }),
      ...(urgency === undefined ? {} : { urgency }),
      vapidPublicKey,
      receivedAt: Date.now(),
    });
    res.writeHead(201, { Location: `${origin}/message/${randomUUID()}`, TTL: ttlHeader, 'Content-Length': '0' });
    res.end();
  }

  const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else if (err instanceof Refusal) answer(res, err.status, err.message);
      else answer(res, 500, `stand-in error: ${String(err)}`);
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    rmSync(certDir, { recursive: true, force: true });
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  origin = `https://${options.publicHost ?? '127.0.0.1'}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    port,
    origin,
    caCertPem,
    caCertPath,
    createSubscription() {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const authSecret = randomBytes(16);
      const id = randomBytes(16).toString('base64url');
      subscriptions.set(id, { ecdh, authSecret, removed: false });
      return {
        endpoint: `${origin}/push/${id}`,
        expirationTime: null,
        keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') },
      };
    },
    received: arrivals.items,
    respondWith(status, respondOptions = {}) {
      if (!Number.isInteger(status) || status < 400 || status > 599) {
        throw new RangeError(`respondWith(status): expected an HTTP error status from 400 to 599, got ${status}`);
      }
      rules.add(
        {
          status,
          ...(respondOptions.endpoint === undefined ? {} : { endpoint: respondOptions.endpoint }),
          ...(respondOptions.retryAfterS === undefined ? {} : { retryAfterS: respondOptions.retryAfterS }),
        },
        respondOptions.count,
      );
    },
    get delayMs() {
      return delayMs;
    },
    set delayMs(ms: number) {
      delayMs = ms;
    },
    reset() {
      rules.clear();
      delayMs = 0;
      arrivals.clear();
    },
    removeSubscription(endpoint) {
      const id = endpoint.startsWith(`${origin}/push/`) ? endpoint.slice(`${origin}/push/`.length) : undefined;
      const subscription = id === undefined ? undefined : subscriptions.get(id);
      if (!subscription) throw new Error(`removeSubscription: ${endpoint} is not a subscription of this stand-in`);
      subscription.removed = true;
    },
    waitForPushes(n, timeoutMs = 10_000) {
      return arrivals.waitFor(n, timeoutMs);
    },
    trustAgent() {
      return new Agent({ ca: caCertPem });
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }).finally(() => rmSync(certDir, { recursive: true, force: true }));
      return closing;
    },
  };
}
