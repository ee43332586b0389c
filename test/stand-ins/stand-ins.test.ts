import { spawn } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import nodemailer from 'nodemailer';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import webpush from 'web-push';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startPushStandIn,
  startSmtpStandIn,
  startTwilioStandIn,
  type PushStandIn,
  type SmtpStandIn,
  type TwilioStandIn,
} from '@herald/stand-ins';
import { waitFor } from '../helpers/wait-for.js';

describe('SMTP stand-in with nodemailer', () => {
  let smtp: SmtpStandIn;

  beforeAll(async () => {
    smtp = await startSmtpStandIn();
  });
  afterAll(() => smtp.close());
  beforeEach(() => smtp.reset());

  /** Send one mail through a fresh, unpooled transport, as the production driver is configured minus TLS. */
  async function send(subject = 'Sign-in code', auth?: { user: string; pass: string }) {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      ignoreTLS: true,
      ...(auth ? { auth } : {}),
    });
    try {
      return await transport.sendMail({
        from: 'Herald <noreply@herald.test>',
        to: 'ada@example.com, grace@example.com',
        subject,
        text: 'Your code is 123456',
        headers: { 'X-Herald-Notification': 'n-1' },
      });
    } finally {
      transport.close();
    }
  }

  it('receives a mail parsed: envelope, subject, text, Message-ID, headers, raw', async () => {
    const info = await send();
    const [mail] = await smtp.waitForMessages(1);
    expect(smtp.url).toBe(`smtp://127.0.0.1:${smtp.port}`);
    expect(mail).toMatchObject({
      from: 'noreply@herald.test',
      to: ['ada@example.com', 'grace@example.com'],
      subject: 'Sign-in code',
      messageId: info.messageId,
    });
    expect(mail!.text.trim()).toBe('Your code is 123456');
    expect(mail!.headers['from']).toBe('Herald <noreply@herald.test>');
    expect(mail!.headers['x-herald-notification']).toBe('n-1');
    expect(mail!.headers['message-id']).toBe(info.messageId);
    expect(mail!.raw).toContain('Subject: Sign-in code');
    expect(mail!.receivedAt).toBeLessThanOrEqual(Date.now());
  });

  it('accepts any AUTH credentials', async () => {
    await send('with auth', { user: 'anyone', pass: 'anything' });
    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.subject).toBe('with auth');
  });

  it('failWith(550) rejects at RCPT TO: EENVELOPE 550, for `count` messages only', async () => {
    smtp.failWith(550, 1);
    await expect(send('rejected')).rejects.toMatchObject({ code: 'EENVELOPE', responseCode: 550 });
    await send('accepted');
    const mails = await smtp.waitForMessages(1);
    expect(mails.map((m) => m.subject)).toEqual(['accepted']);
  });

  it('failWith(451) rejects at DATA: EMESSAGE 451, until reset', async () => {
    smtp.failWith(451);
    await expect(send('first')).rejects.toMatchObject({ code: 'EMESSAGE', responseCode: 451 });
    await expect(send('second')).rejects.toMatchObject({ code: 'EMESSAGE', responseCode: 451 });
    expect(smtp.messages).toHaveLength(0);
    smtp.reset();
    await send('after reset');
    expect((await smtp.waitForMessages(1))[0]!.subject).toBe('after reset');
  });

  it('failWith calls queue up: 451 then 550 then delivery; 421 closes the connection', async () => {
    smtp.failWith(451, 1);
    smtp.failWith(550, 1);
    smtp.failWith(421, 1);
    await expect(send('one')).rejects.toMatchObject({ code: 'EMESSAGE', responseCode: 451 });
    await expect(send('two')).rejects.toMatchObject({ code: 'EENVELOPE', responseCode: 550 });
    await expect(send('three')).rejects.toMatchObject({ responseCode: 421 });
    await send('four');
    expect((await smtp.waitForMessages(1)).map((m) => m.subject)).toEqual(['four']);
  });

  it('stop() refuses connections (ESOCKET) and keeps messages; start() listens again on the same port', async () => {
    await send('before');
    await smtp.stop();
    await smtp.stop();
    await expect(send('during')).rejects.toMatchObject({ code: 'ESOCKET' });
    const port = smtp.port;
    await smtp.start();
    expect(smtp.port).toBe(port);
    await send('after');
    const mails = await smtp.waitForMessages(2);
    expect(mails.map((m) => m.subject)).toEqual(['before', 'after']);
  });

  it('stop() does not wait for idle pooled connections, and the pool reconnects after start()', async () => {
    const pool = nodemailer.createTransport({
      pool: true,
      maxConnections: 1,
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      ignoreTLS: true,
    });
    const mail = (subject: string) => ({ from: 'noreply@herald.test', to: 'ada@example.com', subject, text: subject });
    try {
      await pool.sendMail(mail('pooled 1'));
      await smtp.stop(); // would take smtp-server's 30 s close time-out if it waited for the idle session
      await smtp.start();
      await pool.sendMail(mail('pooled 2'));
      expect((await smtp.waitForMessages(2)).map((m) => m.subject)).toEqual(['pooled 1', 'pooled 2']);
    } finally {
      pool.close();
    }
  });

  it('delayMs holds the reply to DATA; reset() sets it back to 0', async () => {
    smtp.delayMs = 300;
    const started = Date.now();
    await send('slow');
    // Timers and Date.now() round differently by up to a millisecond.
    expect(smtp.messages[0]!.receivedAt - started).toBeGreaterThanOrEqual(299);
    smtp.reset();
    expect(smtp.delayMs).toBe(0);
  });

  it('waitForMessages rejects after its time-out naming the count seen', async () => {
    await expect(smtp.waitForMessages(1, 50)).rejects.toThrow(/waiting for 1 mail message\(s\); received 0/);
  });
});

/**
 * The twilio SDK only knows twilio.com hosts: an `httpClient` that rewrites each request's URI
 * sends it to the stand-in. With `httpClient` given, retries and time-out are set here.
 */
class StandInRequestClient extends twilio.RequestClient {
  constructor(private readonly baseUrl: string) {
    super({ autoRetry: false, timeout: 5_000 });
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const url = new URL(opts.uri);
    return super.request({ ...opts, uri: `${this.baseUrl}${url.pathname}${url.search}` });
  }
}

describe('Twilio stand-in with the twilio SDK', () => {
  let standIn: TwilioStandIn;
  let client: twilio.Twilio;

  beforeAll(async () => {
    standIn = await startTwilioStandIn();
    client = twilio(standIn.accountSid, standIn.authToken, { httpClient: new StandInRequestClient(standIn.baseUrl) });
  });
  afterAll(() => standIn.close());
  beforeEach(() => standIn.reset());

  function basic(sid: string, token: string): string {
    return `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`;
  }

  /** A raw request, to see what the SDK does not show (headers) or will not send (missing fields). */
  function post(form: Record<string, string>, authorization = basic(standIn.accountSid, standIn.authToken)) {
    return fetch(`${standIn.baseUrl}/2010-04-01/Accounts/${standIn.accountSid}/Messages.json`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });
  }

  it('creates a message: 201 with the message resource the SDK parses', async () => {
    const message = await client.messages.create({
      to: '+15555550100',
      from: '+15555550199',
      body: 'Your code is 123456',
    });
    expect(message.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(message).toMatchObject({
      status: 'queued',
      to: '+15555550100',
      from: '+15555550199',
      body: 'Your code is 123456',
      accountSid: standIn.accountSid,
      direction: 'outbound-api',
      apiVersion: '2010-04-01',
      numSegments: '1',
      price: null,
      errorCode: null,
      uri: `/2010-04-01/Accounts/${standIn.accountSid}/Messages/${message.sid}.json`,
    });
    expect(message.dateCreated).toBeInstanceOf(Date);
    expect(Number.isNaN(message.dateCreated.getTime())).toBe(false);
    const [sms] = await standIn.waitForMessages(1);
    expect(sms).toMatchObject({
      sid: message.sid,
      to: '+15555550100',
      from: '+15555550199',
      body: 'Your code is 123456',
    });
    expect(standIn.requests).toBe(1);
  });

  it('accepts a MessagingServiceSid instead of From', async () => {
    const message = await client.messages.create({
      to: '+15555550100',
      messagingServiceSid: 'MG' + '0'.repeat(32),
      body: 'hi',
    });
    expect(message).toMatchObject({ status: 'accepted', from: null, messagingServiceSid: 'MG' + '0'.repeat(32) });
    expect(standIn.messages[0]).toMatchObject({ messagingServiceSid: 'MG' + '0'.repeat(32) });
    expect(standIn.messages[0]).not.toHaveProperty('from');
  });

  it('counts segments as Twilio bills them', async () => {
    const long = await client.messages.create({ to: '+15555550100', from: '+15555550199', body: 'x'.repeat(161) });
    const unicode = await client.messages.create({ to: '+15555550100', from: '+15555550199', body: '✓'.repeat(71) });
    expect([long.numSegments, unicode.numSegments]).toEqual(['2', '2']);
  });

  it('a number in invalidNumbers is a RestException 400 / 21211', async () => {
    standIn.invalidNumbers.add('+15555550123');
    const err: unknown = await client.messages
      .create({ to: '+15555550123', from: '+15555550199', body: 'hi' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(twilio.RestException);
    expect(err).toMatchObject({ status: 400, code: 21211, moreInfo: 'https://www.twilio.com/docs/errors/21211' });
    expect(standIn.messages).toHaveLength(0);
  });

  it('wrong credentials are a RestException 401 / 20003', async () => {
    const wrong = twilio(standIn.accountSid, 'not-the-token', {
      httpClient: new StandInRequestClient(standIn.baseUrl),
    });
    await expect(wrong.messages.create({ to: '+15555550100', from: '+15555550199', body: 'hi' })).rejects.toMatchObject(
      {
        status: 401,
        code: 20003,
      },
    );
  });

  it('another account or path is 404', async () => {
    const other = await fetch(`${standIn.baseUrl}/2010-04-01/Accounts/AC${'1'.repeat(32)}/Messages.json`, {
      method: 'POST',
      headers: { authorization: basic(standIn.accountSid, standIn.authToken) },
    });
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ code: 20404, status: 404 });
  });

  it('missing To or Body is 400 with Twilio error JSON', async () => {
    const noTo = await post({ From: '+15555550199', Body: 'hi' });
    expect(noTo.status).toBe(400);
    expect(await noTo.json()).toEqual({
      code: 21604,
      message: "A 'To' phone number is required.",
      more_info: 'https://www.twilio.com/docs/errors/21604',
      status: 400,
    });
    const noBody = await post({ To: '+15555550100', From: '+15555550199' });
    expect(noBody.status).toBe(400);
    expect(await noBody.json()).toMatchObject({ code: 21602, status: 400 });
  });

  it('respondWith(429, {retryAfterS}) answers 429 / 20429 with Retry-After, for `count` requests', async () => {
    standIn.respondWith(429, { retryAfterS: 3, count: 2 });
    await expect(
      client.messages.create({ to: '+15555550100', from: '+15555550199', body: 'hi' }),
    ).rejects.toMatchObject({
      status: 429,
      code: 20429,
    });
    const raw = await post({ To: '+15555550100', From: '+15555550199', Body: 'hi' });
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('3');
    expect(await raw.json()).toMatchObject({ code: 20429, status: 429 });
    const message = await client.messages.create({ to: '+15555550100', from: '+15555550199', body: 'hi' });
    expect(message.sid).toMatch(/^SM/);
    expect(standIn.requests).toBe(3);
  });

  it('respondWith calls queue up: 500, then 429, then the message is sent', async () => {
    standIn.respondWith(500, { count: 1 });
    standIn.respondWith(429, { count: 1, retryAfterS: 1 });
    const create = () => client.messages.create({ to: '+15555550100', from: '+15555550199', body: 'hi' });
    await expect(create()).rejects.toMatchObject({ status: 500, code: 20500 });
    await expect(create()).rejects.toMatchObject({ status: 429, code: 20429 });
    await create();
    expect(standIn.messages).toHaveLength(1);
  });

  it('delayMs holds the answer: the message is recorded only when the delay is over', async () => {
    standIn.delayMs = 300;
    const started = Date.now();
    const sending = client.messages.create({ to: '+15555550100', from: '+15555550199', body: 'slow' });
    await waitFor(() => standIn.requests === 1);
    expect(standIn.messages).toHaveLength(0);
    await sending;
    // Timers and Date.now() round differently by up to a millisecond.
    expect(standIn.messages[0]!.receivedAt - started).toBeGreaterThanOrEqual(299);
  });

  it('respondWith(500) answers 500 / 20500 until reset', async () => {
    standIn.respondWith(500);
    for (let i = 0; i < 2; i++) {
      await expect(
        client.messages.create({ to: '+15555550100', from: '+15555550199', body: 'hi' }),
      ).rejects.toMatchObject({
        status: 500,
        code: 20500,
      });
    }
    standIn.reset();
    await client.messages.create({ to: '+15555550100', from: '+15555550199', body: 'hi' });
    expect(standIn.messages).toHaveLength(1);
  });
});

/** A raw HTTPS request trusting only `ca`, to send what web-push would never send. */
function rawRequest(
  url: string,
  ca: string,
  headers: Record<string, string | number>,
  body?: Buffer,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'POST', ca, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Web Push stand-in with web-push', () => {
  const vapid = webpush.generateVAPIDKeys();
  const vapidDetails = { subject: 'mailto:ops@example.com', publicKey: vapid.publicKey, privateKey: vapid.privateKey };
  let push: PushStandIn;

  beforeAll(async () => {
    push = await startPushStandIn({ vapidPublicKey: vapid.publicKey });
  });
  afterAll(() => push.close());
  beforeEach(() => push.reset());

  function send(
    subscription: webpush.PushSubscription,
    payload: unknown = { title: 'Hi', body: 'Your code is 123456' },
  ) {
    return webpush.sendNotification(subscription, JSON.stringify(payload), {
      vapidDetails,
      TTL: 60,
      topic: 'abc',
      agent: push.trustAgent(),
    });
  }

  it('makes browser-like subscriptions', () => {
    const subscription = push.createSubscription();
    expect(subscription.endpoint).toMatch(new RegExp(`^${push.origin}/push/[A-Za-z0-9_-]+$`));
    expect(push.origin).toBe(`https://127.0.0.1:${push.port}`);
    expect(subscription.expirationTime).toBeNull();
    expect(Buffer.from(subscription.keys.p256dh, 'base64url')).toHaveLength(65);
    expect(Buffer.from(subscription.keys.auth, 'base64url')).toHaveLength(16);
  });

  it('accepts a push: 201 with Location, payload decrypted, TTL, topic, urgency and VAPID key recorded', async () => {
    const subscription = push.createSubscription();
    const result = await send(subscription);
    expect(result.statusCode).toBe(201);
    expect(result.headers['location']).toMatch(new RegExp(`^${push.origin}/message/[0-9a-f-]{36}$`));
    const [received] = await push.waitForPushes(1);
    expect(received).toMatchObject({
      endpoint: subscription.endpoint,
      payload: JSON.stringify({ title: 'Hi', body: 'Your code is 123456' }),
      json: { title: 'Hi', body: 'Your code is 123456' },
      ttl: 60,
      topic: 'abc',
      urgency: 'normal',
      vapidPublicKey: vapid.publicKey,
    });
  });

  it('respondWith(410) is a WebPushError 410, and only for the given endpoint', async () => {
    const gone = push.createSubscription();
    const alive = push.createSubscription();
    push.respondWith(410, { endpoint: gone.endpoint });
    const err: unknown = await send(gone).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(webpush.WebPushError);
    expect(err).toMatchObject({ statusCode: 410, endpoint: gone.endpoint });
    await send(alive);
    expect((await push.waitForPushes(1))[0]!.endpoint).toBe(alive.endpoint);
  });

  it('respondWith(429, {retryAfterS, count}) answers with Retry-After, then delivers', async () => {
    const subscription = push.createSubscription();
    push.respondWith(429, { retryAfterS: 7, count: 1 });
    await expect(send(subscription)).rejects.toMatchObject({ statusCode: 429, headers: { 'retry-after': '7' } });
    await send(subscription);
    await push.waitForPushes(1);
  });

  it('respondWith for one endpoint goes before a rule for all, and rules queue', async () => {
    const a = push.createSubscription();
    const b = push.createSubscription();
    push.respondWith(503, { count: 1 });
    push.respondWith(404, { count: 1, endpoint: a.endpoint });
    await expect(send(a)).rejects.toMatchObject({ statusCode: 404 });
    await expect(send(a)).rejects.toMatchObject({ statusCode: 503 });
    await send(b);
    await send(a);
    expect((await push.waitForPushes(2)).map((p) => p.endpoint)).toEqual([b.endpoint, a.endpoint]);
  });

  it('removeSubscription makes later pushes 410; an unknown subscription is 404', async () => {
    const subscription = push.createSubscription();
    push.removeSubscription(subscription.endpoint);
    await expect(send(subscription)).rejects.toMatchObject({ statusCode: 410 });
    const unknown = { ...push.createSubscription(), endpoint: `${push.origin}/push/nobody` };
    await expect(send(unknown)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('a push signed with another VAPID key is 403', async () => {
    const other = webpush.generateVAPIDKeys();
    await expect(
      webpush.sendNotification(push.createSubscription(), 'hi', {
        vapidDetails: { ...vapidDetails, publicKey: other.publicKey, privateKey: other.privateKey },
        TTL: 60,
        agent: push.trustAgent(),
      }),
    ).rejects.toMatchObject({ statusCode: 403 });
  });

  it('a bogus or missing Authorization, or a JWT for another audience, is 401', async () => {
    const { endpoint } = push.createSubscription();
    const bogus = await rawRequest(endpoint, push.caCertPem, {
      Authorization: `vapid t=a.b.c, k=${vapid.publicKey}`,
      TTL: 60,
    });
    expect(bogus.status).toBe(401);
    const missing = await rawRequest(endpoint, push.caCertPem, { TTL: 60 });
    expect(missing.status).toBe(401);
    const otherAudience = webpush.getVapidHeaders(
      'https://127.0.0.1:1',
      vapidDetails.subject,
      vapid.publicKey,
      vapid.privateKey,
      'aes128gcm',
    );
    const wrongAud = await rawRequest(endpoint, push.caCertPem, { ...otherAudience, TTL: 60 });
    expect(wrongAud.status).toBe(401);
    expect(JSON.parse(wrongAud.body)).toMatchObject({ code: 401, message: expect.stringContaining('aud') });
  });

  it('no TTL, another Content-Encoding or a body that does not decrypt is 400', async () => {
    const subscription = push.createSubscription();
    const details = webpush.generateRequestDetails(subscription, 'hello', { vapidDetails, TTL: 60 });
    const headers = details.headers as Record<string, string | number>;
    const { TTL: _ttl, ...noTtl } = headers;
    expect((await rawRequest(details.endpoint, push.caCertPem, noTtl, details.body)).status).toBe(400);
    const aesgcm = await rawRequest(
      details.endpoint,
      push.caCertPem,
      { ...headers, 'Content-Encoding': 'aesgcm' },
      details.body,
    );
    expect(aesgcm.status).toBe(400);
    const tampered = Buffer.from(details.body);
    tampered[tampered.length - 1]! ^= 0xff;
    expect((await rawRequest(details.endpoint, push.caCertPem, headers, tampered)).status).toBe(400);
    expect((await rawRequest(details.endpoint, push.caCertPem, headers, details.body)).status).toBe(201);
    expect((await push.waitForPushes(1))[0]!.payload).toBe('hello');
  });

  it('a payload over 4096 bytes is 413', async () => {
    await expect(send(push.createSubscription(), { body: 'x'.repeat(5000) })).rejects.toMatchObject({
      statusCode: 413,
    });
  });

  it('another process trusts the certificate through NODE_EXTRA_CA_CERTS', async () => {
    const script = `require('node:https').get(process.argv[1], (res) => { console.log(res.statusCode); res.resume(); })
      .on('error', (err) => { console.log(err.code); });`;
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script, `${push.origin}/nothing-here`], {
        env: { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: push.caCertPath },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.once('error', reject);
      child.once('exit', () => resolve(out.trim()));
    });
    // 404 is the stand-in's answer: the TLS handshake succeeded (an untrusted certificate gives
    // DEPTH_ZERO_SELF_SIGNED_CERT instead).
    expect(output).toBe('404');
  });
});
