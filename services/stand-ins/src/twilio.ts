import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Arrivals } from './arrivals.js';
import { ScriptedFailures } from './scripted-failures.js';

/** One SMS the Twilio stand-in accepted. */
export interface ReceivedSms {
  /** The message SID it answered with, `SM` + 32 hex characters. */
  sid: string;
  to: string;
  /** Absent when only `MessagingServiceSid` was given. */
  from?: string;
  messagingServiceSid?: string;
  body: string;
  /** Milliseconds since the epoch. */
  receivedAt: number;
}

export interface TwilioStandInOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** The name others reach it by, for `baseUrl`, when it is not 127.0.0.1. */
  publicHost?: string;
  /** The only account it serves. Default: `AC` + 32 random hex characters. */
  accountSid?: string;
  /** Basic-auth password. Default: 32 random hex characters. */
  authToken?: string;
}

export interface TwilioRespondWithOptions {
  /** How many requests get this answer (a positive integer). Default: every request until `reset()`. */
  count?: number;
  /** Adds `Retry-After: <seconds>` to the answer. */
  retryAfterS?: number;
  /** Twilio error code in the JSON body. Default: 20000 + status (20429, 20500, 20503, ...). */
  code?: number;
}

/**
 * The part of Twilio's REST API that sends SMS: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`
 * with basic auth and a form body, answering as Twilio does (201 with the message resource,
 * errors as `{code, message, more_info, status}`). The real `twilio` SDK talks to it once its
 * request URIs are rewritten to `baseUrl`.
 */
export interface TwilioStandIn {
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly baseUrl: string;
  readonly accountSid: string;
  readonly authToken: string;
  /** Accepted messages, oldest first. Cleared in place by `reset()`. */
  readonly messages: ReceivedSms[];
  /** Every HTTP request seen, whatever it was answered. */
  readonly requests: number;
  /** `To` numbers answered with 400 / 21211 (not a valid phone number). */
  readonly invalidNumbers: Set<string>;
  /**
   * Answer the next `count` authenticated message requests with `status` and Twilio's error JSON
   * instead of sending (429 → code 20429, 500 → 20500; see options). Calls queue up:
   * `respondWith(500, {count: 1}); respondWith(429, {count: 1})` answers 500, then 429.
   */
  respondWith(status: number, options?: TwilioRespondWithOptions): void;
  /**
   * Milliseconds each authenticated message request waits before it is handled (a slow
   * provider); 0 by default, settable at any time. The message is still recorded if the client
   * timed out meanwhile: the ambiguity a real provider leaves (sent, but the caller never heard).
   */
  delayMs: number;
  /** Forget messages, the request count, `invalidNumbers` and any `respondWith`; `delayMs` back to 0. */
  reset(): void;
  /** Resolves with all messages once at least `n` arrived; rejects after `timeoutMs` (default 10 000). */
  waitForMessages(n: number, timeoutMs?: number): Promise<ReceivedSms[]>;
  /** Stop listening and drop keep-alive connections. Safe to call twice. */
  close(): Promise<void>;
}

const API_VERSION = '2010-04-01';
const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;
const MAX_BODY_BYTES = 1024 * 1024;

/** Reason phrases Twilio puts in `message` for the statuses a test injects. */
const STATUS_MESSAGES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Authenticate',
  403: 'Forbidden',
  404: 'The requested resource was not found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Twilio's date format: RFC 2822 with a numeric zone, `Thu, 30 Jul 2015 20:12:31 +0000`. */
function rfc2822(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}

// GSM 03.38 basic character set plus the extension table (those count twice).
const GSM_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
    '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
const GSM_EXTENDED = new Set('^{}\\[~]|€\f');

/** Segments Twilio would bill: GSM-7 160 / 153 per part, otherwise UCS-2 70 / 67 per part. */
function segmentCount(body: string): number {
  let septets = 0;
  let gsm = true;
  for (const char of body) {
    if (GSM_BASIC.has(char)) septets += 1;
    else if (GSM_EXTENDED.has(char)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  if (gsm) return septets <= 160 ? 1 : Math.ceil(septets / 153);
  // UCS-2 counts UTF-16 code units.
  return body.length <= 70 ? 1 : Math.ceil(body.length / 67);
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.once('end', () => resolve(size <= MAX_BODY_BYTES ? Buffer.concat(chunks) : undefined));
    req.once('error', reject);
  });
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Start a Twilio stand-in on 127.0.0.1; resolves once it listens. */
export async function startTwilioStandIn(options: TwilioStandInOptions = {}): Promise<TwilioStandIn> {
  const accountSid = options.accountSid ?? `AC${randomBytes(16).toString('hex')}`;
  const authToken = options.authToken ?? randomBytes(16).toString('hex');
  if (!accountSid.startsWith('AC')) {
    throw new Error(`accountSid: must start with "AC" (the twilio SDK refuses anything else), got ${accountSid}`);
  }
  const arrivals = new Arrivals<ReceivedSms>('SMS message(s)');
  const invalidNumbers = new Set<string>();
  let requests = 0;
  let delayMs = 0;
  const injected = new ScriptedFailures<{ status: number; retryAfterS?: number; code?: number }>();

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  }

  function sendError(
    res: ServerResponse,
    status: number,
    code: number,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    sendJson(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }, headers);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests += 1;
    // Twilio checks credentials before anything else, for every path under the API.
    const auth = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    const decoded = auth ? Buffer.from(auth[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const user = colon >= 0 ? decoded.slice(0, colon) : '';
    const password = colon >= 0 ? decoded.slice(colon + 1) : '';
    if (!sameSecret(user, accountSid) || !sameSecret(password, authToken)) {
      req.resume();
      sendError(res, 401, 20003, 'Authenticate', { 'WWW-Authenticate': 'Basic realm="Twilio API"' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const match = MESSAGES_PATH.exec(url.pathname);
    if (!match || match[1] !== accountSid) {
      req.resume();
      sendError(res, 404, 20404, `The requested resource ${url.pathname} was not found`);
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      sendError(res, 405, 20004, 'Method not allowed', { Allow: 'POST' });
      return;
    }
    const raw = await readBody(req);
    if (raw === undefined) {
      sendError(res, 413, 20413, 'Request entity too large');
      return;
    }
    if (delayMs > 0) await sleep(delayMs);
    const scripted = injected.take();
    if (scripted) {
      const { status, retryAfterS, code } = scripted;
      const headers: Record<string, string> = retryAfterS === undefined ? {} : { 'Retry-After': String(retryAfterS) };
      sendError(res, status, code ?? 20000 + status, STATUS_MESSAGES[status] ?? `HTTP ${status}`, headers);
      return;
    }

    const form = new URLSearchParams(raw.toString('utf8'));
    const to = form.get('To') ?? '';
    const from = form.get('From') ?? undefined;
    const messagingServiceSid = form.get('MessagingServiceSid') ?? undefined;
    const body = form.get('Body') ?? '';
    if (!to) {
      sendError(res, 400, 21604, "A 'To' phone number is required.");
      return;
    }
    if (!body) {
      sendError(res, 400, 21602, 'Message body is required.');
      return;
    }
    if (!from && !messagingServiceSid) {
      sendError(res, 400, 21603, "A 'From' phone number is required.");
      return;
    }
    if (invalidNumbers.has(to)) {
      sendError(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
      return;
    }

    const sid = `SM${randomBytes(16).toString('hex')}`;
    const now = rfc2822(new Date());
    const uri = `/${API_VERSION}/Accounts/${accountSid}/Messages/${sid}.json`;
    arrivals.push({
      sid,
      to,
      ...(from === undefined ? {} : { from }),
      ...(messagingServiceSid === undefined ? {} : { messagingServiceSid }),
      body,
      receivedAt: Date.now(),
    });
    sendJson(res, 201, {
      account_sid: accountSid,
      api_version: API_VERSION,
      body,
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: from ?? null,
      messaging_service_sid: messagingServiceSid ?? null,
      num_media: '0',
      num_segments: String(segmentCount(body)),
      price: null,
      price_unit: 'USD',
      sid,
      // Twilio answers `accepted` when a Messaging Service still has to pick the sender.
      status: from === undefined ? 'accepted' : 'queued',
      subresource_uris: {
        media: `/${API_VERSION}/Accounts/${accountSid}/Messages/${sid}/Media.json`,
      },
      to,
      uri,
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 20500, `Internal Server Error (stand-in: ${String(err)})`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    port,
    baseUrl: `http://${options.publicHost ?? '127.0.0.1'}:${port}`,
    accountSid,
    authToken,
    messages: arrivals.items,
    get requests() {
      return requests;
    },
    invalidNumbers,
    respondWith(status, respondOptions = {}) {
      if (!Number.isInteger(status) || status < 400 || status > 599) {
        throw new RangeError(`respondWith(status): expected an HTTP error status from 400 to 599, got ${status}`);
      }
      injected.add(
        {
          status,
          ...(respondOptions.retryAfterS === undefined ? {} : { retryAfterS: respondOptions.retryAfterS }),
          ...(respondOptions.code === undefined ? {} : { code: respondOptions.code }),
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
      injected.clear();
      delayMs = 0;
      requests = 0;
      invalidNumbers.clear();
      arrivals.clear();
    },
    waitForMessages(n, timeoutMs = 10_000) {
      return arrivals.waitFor(n, timeoutMs);
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // The SDK's agent keeps connections alive; they would hold close() open.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
