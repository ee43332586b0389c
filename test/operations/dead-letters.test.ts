import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import type { Channel, DeadLetterView, GroupStatus, NotificationStatusView } from '@herald/shared';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';

/** Real dead letters, made by real workers failing against the stand-ins; then listed, redriven, dropped. */

const PUBLISH = { authorization: 'Bearer pk' };
const ADMIN = { authorization: 'Bearer ak' };

let stack: TestStack;
/** Notification ids by role. */
const ids: Record<string, string> = {};
/** Stream ids the publisher gave them. */
const streamIds: Record<string, string> = {};

const mail = (name: string) => `dl-${name}@example.com`;
const PHONE_A = '+14155550201';
const BAD_PHONES = { d: '+14155550298', e: '+14155550299' };

async function publish(name: string, body: Record<string, unknown>): Promise<string> {
  const res = await stack.pub.app.inject({ method: 'POST', url: '/v1/notifications', headers: PUBLISH, payload: body });
  expect(res.statusCode, res.body).toBe(202);
  ids[name] = res.json().id;
  streamIds[name] = res.json().streamId;
  return res.json().id;
}

async function status(id: string): Promise<NotificationStatusView> {
  const res = await stack.pub.app.inject({ method: 'GET', url: `/v1/notifications/${id}`, headers: PUBLISH });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<NotificationStatusView>();
}

async function settledOn(id: string, channel: Channel) {
  return waitFor(
    async () => {
      const c = (await status(id)).channels[channel];
      return ['pending', 'retrying'].includes(c.state) ? undefined : c;
    },
    { what: `${id} to settle on ${channel}` },
  );
}

async function list(query = ''): Promise<{ deadLetters: DeadLetterView[]; next: string | null }> {
  const res = await stack.pub.app.inject({ method: 'GET', url: `/v1/dead-letters${query}`, headers: ADMIN });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

async function letterOf(id: string, channel: Channel): Promise<DeadLetterView> {
  const found = (await list()).deadLetters.filter((l) => l.id === id && l.channel === channel);
  expect(found, `one ${channel} dead letter for ${id}`).toHaveLength(1);
  return found[0]!;
}

function redrive(dlqId: string, headers: Record<string, string> = ADMIN) {
  return stack.pub.app.inject({
    method: 'POST',
    url: `/v1/dead-letters/${encodeURIComponent(dlqId)}/redrive`,
    headers,
  });
}

async function groups(): Promise<GroupStatus[]> {
  const res = await stack.pub.app.inject({ method: 'GET', url: '/v1/groups', headers: ADMIN });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().groups;
}

/** Until the channel's group has read and acknowledged every entry (so nothing more will be sent). */
async function caughtUp(channel: Channel): Promise<void> {
  await waitFor(
    async () => {
      const g = (await groups()).find((s) => s.channel === channel)!;
      return g.exists && g.pending === 0 && g.lag === 0;
    },
    { what: `the ${channel} group to catch up` },
  );
}

function expectError(res: LightMyRequestResponse, statusCode: number, code: string) {
  expect(res.statusCode, res.body).toBe(statusCode);
  const body = res.json();
  expect(body).toEqual({
    error: { code, message: expect.any(String), ...(body.error?.issues ? { issues: expect.any(Array) } : {}) },
  });
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error as { code: string; message: string; issues?: { path: string; message: string }[] };
}

const mailsTo = (address: string) => stack.smtp.messages.filter((m) => m.to.includes(address)).length;
const smsTo = (phone: string) => stack.twilio.messages.filter((m) => m.to === phone).length;

beforeAll(async () => {
  stack = await startStack({ HERALD_API_KEYS: 'pk', HERALD_ADMIN_KEYS: 'ak' });
  await Promise.all([stack.spawnWorker('email'), stack.spawnWorker('sms')]);

  // Five mails refused for good (550), one per notification; two SMS to numbers Twilio refuses.
  stack.smtp.failWith(550, 5);
  for (const phone of Object.values(BAD_PHONES)) stack.twilio.invalidNumbers.add(phone);
  await publish('a', {
    userId: 'dl-user-a',
    type: 'otp',
    body: 'Code a',
    to: { email: mail('a'), phone: PHONE_A },
    channels: ['email', 'sms'],
  });
  for (const name of ['b', 'c', 'f', 'g']) {
    await publish(name, {
      userId: `dl-user-${name}`,
      type: 'otp',
      body: `Code ${name}`,
      to: { email: mail(name) },
      channels: ['email'],
    });
  }
  for (const [name, phone] of Object.entries(BAD_PHONES)) {
    await publish(name, {
      userId: `dl-user-${name}`,
      type: 'otp',
      body: `Code ${name}`,
      to: { phone },
      channels: ['sms'],
    });
  }
  for (const name of ['a', 'b', 'c', 'f', 'g']) {
    expect(await settledOn(ids[name]!, 'email')).toMatchObject({ state: 'dead', reason: 'permanent', attempts: 1 });
  }
  for (const name of ['d', 'e']) {
    expect(await settledOn(ids[name]!, 'sms')).toMatchObject({ state: 'dead', reason: 'permanent', attempts: 1 });
  }
  expect(await settledOn(ids.a!, 'sms')).toMatchObject({ state: 'delivered' });
  expect(smsTo(PHONE_A)).toBe(1);
  await Promise.all([caughtUp('email'), caughtUp('sms')]);
  // Mail is accepted again from here on, and nothing has been received.
  stack.smtp.reset();
}, 90_000);

afterAll(async () => {
  await stack?.close();
});

describe('listing dead letters', () => {
  it('lists every dead letter with its reason, attempts, error and original entry', async () => {
    const { deadLetters, next } = await list();
    expect(next).toBeNull();
    expect(deadLetters).toHaveLength(7);
    const byId = new Map(deadLetters.map((l) => [`${l.channel}:${l.id}`, l]));
    const expected: [Channel, string][] = [
      ['email', 'a'],
      ['email', 'b'],
      ['email', 'c'],
      ['email', 'f'],
      ['email', 'g'],
      ['sms', 'd'],
      ['sms', 'e'],
    ];
    expect([...byId.keys()].sort()).toEqual(expected.map(([channel, name]) => `${channel}:${ids[name]}`).sort());
    for (const [channel, name] of expected) {
      const letter = byId.get(`${channel}:${ids[name]}`)!;
      expect(letter).toEqual({
        dlqId: expect.stringMatching(/^\d+-\d+$/),
        channel,
        streamId: streamIds[name],
        id: ids[name],
        reason: 'permanent',
        attempts: 1,
        error: expect.any(String),
        createdAt: expect.any(String),
        entry: expect.any(Object),
      });
      expect(letter.error.length).toBeGreaterThan(0);
      // The error names no recipient.
      expect(letter.error).not.toContain('@example.com');
      expect(letter.error).not.toMatch(/\+1415555/);
      // createdAt is the dead letter's own time, from its id.
      expect(letter.createdAt).toBe(new Date(Number(letter.dlqId.split('-')[0])).toISOString());
      expect(Date.parse(letter.createdAt)).toBeGreaterThanOrEqual(Number(streamIds[name]!.split('-')[0]));
      // The original entry, field for field.
      expect(letter.entry).toMatchObject({ v: '1', id: ids[name], userId: `dl-user-${name}`, type: 'otp' });
      expect(JSON.parse(letter.entry.payload!)).toEqual({ body: `Code ${name}` });
      expect(letter.entry.channels).toBe(name === 'a' ? 'email,sms' : channel);
    }
    // Oldest first, by dead letter id.
    const dlqIds = deadLetters.map((l) => l.dlqId);
    expect(dlqIds).toEqual([...dlqIds].sort((x, y) => compareIds(x, y)));
  });

  it('filters by channel', async () => {
    const sms = await list('?channel=sms');
    expect(sms.deadLetters.map((l) => l.id).sort()).toEqual([ids.d, ids.e].sort());
    expect(sms.deadLetters.every((l) => l.channel === 'sms')).toBe(true);
    const email = await list('?channel=email');
    expect(email.deadLetters.map((l) => l.id).sort()).toEqual(['a', 'b', 'c', 'f', 'g'].map((n) => ids[n]).sort());
    expect((await list('?channel=push')).deadLetters).toEqual([]);
  });

  it('pages through all of them with limit and after, without repeats', async () => {
    const all = (await list()).deadLetters.map((l) => l.dlqId);
    for (const channel of [undefined, 'sms', 'email'] as const) {
      const seen: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 20; page++) {
        const query: string =
          `?limit=1${channel ? `&channel=${channel}` : ''}` + `${after ? `&after=${encodeURIComponent(after)}` : ''}`;
        const { deadLetters, next } = await list(query);
        expect(deadLetters.length).toBeLessThanOrEqual(1);
        seen.push(...deadLetters.map((l) => l.dlqId));
        if (deadLetters.length === 1) expect(next).toBe(deadLetters[0]!.dlqId);
        if (next === null) break;
        after = next;
      }
      const wanted = channel ? (await list(`?channel=${channel}`)).deadLetters.map((l) => l.dlqId) : all;
      expect(seen).toEqual(wanted);
      expect(new Set(seen).size).toBe(seen.length);
    }
    // A page of 3, then the rest.
    const first = await list('?limit=3');
    expect(first.deadLetters.map((l) => l.dlqId)).toEqual(all.slice(0, 3));
    expect(first.next).toBe(all[2]);
    const rest = await list(`?limit=100&after=${first.next}`);
    expect(rest.deadLetters.map((l) => l.dlqId)).toEqual(all.slice(3));
    expect(rest.next).toBeNull();
  });

  it('answers 400 to a bad limit or after, and 404 to an unknown channel, with the error shape', async () => {
    const get = (query: string) =>
      stack.pub.app.inject({ method: 'GET', url: `/v1/dead-letters${query}`, headers: ADMIN });
    for (const query of [
      '?limit=0',
      '?limit=1001',
      '?limit=abc',
      '?limit=-1',
      '?limit=1.5',
      '?limit=',
      '?after=nope',
      '?after=12-ab',
      '?colour=red',
    ]) {
      expectError(await get(query), 400, 'HERALD_ERR_VALIDATION');
    }
    expectError(await get('?channel=fax'), 404, 'HERALD_ERR_NOT_FOUND');
    expectError(await get('?channel='), 404, 'HERALD_ERR_NOT_FOUND');
    // The bounds themselves are fine.
    expect((await get('?limit=1000')).statusCode).toBe(200);
    expect((await get('?limit=1')).statusCode).toBe(200);
  });

  it('answers 404 to redriving or dropping a dead letter that does not exist', async () => {
    for (const dlqId of ['0-1', '9999999999999-0', 'nope']) {
      expectError(await redrive(dlqId), 404, 'HERALD_ERR_NOT_FOUND');
      expectError(
        await stack.pub.app.inject({ method: 'DELETE', url: `/v1/dead-letters/${dlqId}`, headers: ADMIN }),
        404,
        'HERALD_ERR_NOT_FOUND',
      );
    }
    expect((await list()).deadLetters).toHaveLength(7);
  });

  it('needs an admin key on every dead-letter route: 403 with a publish key, 401 without a key', async () => {
    const letter = await letterOf(ids.g!, 'email');
    const routes = [
      { method: 'GET' as const, url: '/v1/dead-letters' },
      { method: 'GET' as const, url: '/v1/dead-letters?channel=email&limit=1' },
      { method: 'POST' as const, url: `/v1/dead-letters/${letter.dlqId}/redrive` },
      { method: 'DELETE' as const, url: `/v1/dead-letters/${letter.dlqId}` },
    ];
    for (const route of routes) {
      expectError(await stack.pub.app.inject({ ...route, headers: PUBLISH }), 403, 'HERALD_ERR_FORBIDDEN');
      expectError(await stack.pub.app.inject(route), 401, 'HERALD_ERR_UNAUTHORIZED');
      expectError(
        await stack.pub.app.inject({ ...route, headers: { authorization: 'Bearer wrong' } }),
        401,
        'HERALD_ERR_UNAUTHORIZED',
      );
    }
    // Nothing was redriven or dropped.
    expect((await letterOf(ids.g!, 'email')).dlqId).toBe(letter.dlqId);
    expect((await list()).deadLetters).toHaveLength(7);
    expect(mailsTo(mail('g'))).toBe(0);
  });
});

describe('redriving and dropping', () => {
  it('redrives a dead letter: the notification goes back to pending and is delivered once, on that channel only', async () => {
    const letter = await letterOf(ids.a!, 'email');
    const smsBefore = smsTo(PHONE_A);
    expect(smsBefore).toBe(1);
    // A slow mail server, so the pending status can be seen before the worker settles.
    stack.smtp.delayMs = 500;
    const res = await redrive(letter.dlqId);
    expect(res.statusCode, res.body).toBe(202);
    const body = res.json();
    expect(body).toEqual({ id: ids.a, channel: 'email', streamId: expect.stringMatching(/^\d+-\d+$/) });
    expect(compareIds(body.streamId, streamIds.a!)).toBeGreaterThan(0);
    const right = await status(ids.a!);
    expect(right.channels.email).toMatchObject({ state: 'pending', attempts: 0 });
    expect(right.streamId).toBe(streamIds.a);

    // The appended entry names this channel only.
    const [entry] = (await stack.pub.admin.xrange(stack.pub.keys.stream, body.streamId, body.streamId)) as [
      string,
      string[],
    ][];
    const fields = Object.fromEntries(pairs(entry![1]));
    expect(fields).toMatchObject({ id: ids.a, channels: 'email' });

    expect(await settledOn(ids.a!, 'email')).toMatchObject({ state: 'delivered', attempts: 1 });
    stack.smtp.delayMs = 0;
    await Promise.all([caughtUp('email'), caughtUp('sms')]);
    expect(mailsTo(mail('a'))).toBe(1);
    // The letter is gone; the SMS was not sent again and its status stays delivered.
    expect((await list()).deadLetters.some((l) => l.dlqId === letter.dlqId)).toBe(false);
    expect(smsTo(PHONE_A)).toBe(smsBefore);
    expect((await status(ids.a!)).channels.sms).toMatchObject({ state: 'delivered' });
  });

  it('answers 404 to redriving the same letter twice, and still delivers only once', async () => {
    const letter = await letterOf(ids.b!, 'email');
    expect((await redrive(letter.dlqId)).statusCode).toBe(202);
    expect(await settledOn(ids.b!, 'email')).toMatchObject({ state: 'delivered' });
    expectError(await redrive(letter.dlqId), 404, 'HERALD_ERR_NOT_FOUND');
    await caughtUp('email');
    expect(mailsTo(mail('b'))).toBe(1);
    expect((await status(ids.b!)).channels.email).toMatchObject({ state: 'delivered' });
  });

  it('redrives a letter once when two redrives race: one 202, one 404, one mail', async () => {
    const letter = await letterOf(ids.c!, 'email');
    const answers = await Promise.all([redrive(letter.dlqId), redrive(letter.dlqId)]);
    expect(answers.map((r) => r.statusCode).sort()).toEqual([202, 404]);
    expectError(
      answers.find((r) => r.statusCode === 404)!,
      404,
      'HERALD_ERR_NOT_FOUND',
    );
    expect(await settledOn(ids.c!, 'email')).toMatchObject({ state: 'delivered' });
    await caughtUp('email');
    expect(mailsTo(mail('c'))).toBe(1);
    // Exactly one entry was appended for it.
    const entries = (await stack.pub.admin.xrange(stack.pub.keys.stream, '-', '+')) as [string, string[]][];
    expect(entries.filter(([, f]) => Object.fromEntries(pairs(f)).id === ids.c)).toHaveLength(2);
  });

  it('drops a dead letter: 204, then 404', async () => {
    const letter = await letterOf(ids.f!, 'email');
    const del = () =>
      stack.pub.app.inject({ method: 'DELETE', url: `/v1/dead-letters/${letter.dlqId}`, headers: ADMIN });
    const first = await del();
    expect(first.statusCode, first.body).toBe(204);
    expect(first.body).toBe('');
    expectError(await del(), 404, 'HERALD_ERR_NOT_FOUND');
    expect((await list()).deadLetters.some((l) => l.dlqId === letter.dlqId)).toBe(false);
    // Dropping sends nothing: the notification stays dead on email.
    expectError(await redrive(letter.dlqId), 404, 'HERALD_ERR_NOT_FOUND');
    expect((await status(ids.f!)).channels.email).toMatchObject({ state: 'dead' });
    expect(mailsTo(mail('f'))).toBe(0);
  });

  it('makes a new dead letter when a redriven notification fails again', async () => {
    const letter = await letterOf(ids.d!, 'sms');
    const requestsBefore = stack.twilio.requests;
    const res = await redrive(letter.dlqId);
    expect(res.statusCode, res.body).toBe(202);
    // Twilio still refuses the number: tried once more, dead again, with a letter of its own.
    const again = await waitFor(
      async () => {
        const found = (await list('?channel=sms')).deadLetters.filter((l) => l.id === ids.d);
        return found.length === 1 && found[0]!.dlqId !== letter.dlqId ? found[0] : undefined;
      },
      { what: 'a new dead letter for the redriven SMS' },
    );
    expect(again).toMatchObject({ channel: 'sms', streamId: res.json().streamId, reason: 'permanent', attempts: 1 });
    expect(await settledOn(ids.d!, 'sms')).toMatchObject({ state: 'dead', reason: 'permanent', attempts: 1 });
    await caughtUp('sms');
    expect(stack.twilio.requests - requestsBefore).toBe(1);
  });

  it("leaves the other channels' statuses as they were when it redrives one", async () => {
    // No channels named: email is dead-lettered, SMS skipped for want of a phone number.
    stack.smtp.failWith(550, 1);
    const id = await publish('h', { userId: 'dl-user-h', type: 'otp', body: 'Code h', to: { email: mail('h') } });
    expect(await settledOn(id, 'email')).toMatchObject({ state: 'dead', reason: 'permanent' });
    expect(await settledOn(id, 'sms')).toMatchObject({ state: 'skipped', reason: 'no_recipient' });
    await Promise.all([caughtUp('email'), caughtUp('sms')]);
    const before = await status(id);
    stack.smtp.reset();

    const res = await redrive((await letterOf(id, 'email')).dlqId);
    expect(res.statusCode, res.body).toBe(202);
    expect(await settledOn(id, 'email')).toMatchObject({ state: 'delivered' });
    await Promise.all([caughtUp('email'), caughtUp('sms')]);
    expect(mailsTo(mail('h'))).toBe(1);
    // The SMS worker read the redriven entry too (it names email only): the SMS status must
    // still say why nothing was sent, not that SMS was never asked for.
    const after = await status(id);
    expect(after.channels.sms).toEqual(before.channels.sms);
    expect(after.channels.push).toEqual(before.channels.push);
  });

  it('counts the dead letters left per channel in GET /v1/groups', async () => {
    const left = (await list()).deadLetters;
    expect(left.map((l) => `${l.channel}:${l.id}`).sort()).toEqual(
      [`email:${ids.g}`, `sms:${ids.d}`, `sms:${ids.e}`].sort(),
    );
    const counts = Object.fromEntries((await groups()).map((g) => [g.channel, g.deadLetters]));
    expect(counts).toEqual({ email: 1, sms: 2, push: 0 });
    for (const channel of ['email', 'sms', 'push'] as const) {
      expect(counts[channel]).toBe(left.filter((l) => l.channel === channel).length);
    }
  });

  it('refuses to redrive the dead letter of a malformed entry: 400, and the letter stays', async () => {
    // Laid out by hand: key and id, then the entry's fields.
    // prettier-ignore
    const bad = await stack.pub.admin.xadd(
      stack.pub.keys.stream, '*',
      'v', '1', 'id', 'dl-malformed', 'userId', 'dl-user-m', 'type', 'otp', 'payload', '{not json', 'ts', '1',
    );
    // Each running worker (email and sms) dead-letters it.
    const letters = await waitFor(
      async () => {
        const found = (await list()).deadLetters.filter((l) => l.streamId === bad);
        return found.length === 2 ? found : undefined;
      },
      { what: 'the malformed entry dead-lettered on email and sms' },
    );
    expect(letters.map((l) => l.channel).sort()).toEqual(['email', 'sms']);
    for (const letter of letters) {
      expect(letter).toMatchObject({ reason: 'malformed', id: 'dl-malformed', attempts: 1 });
      expect(letter.entry).toMatchObject({ payload: '{not json' });
      const error = expectError(await redrive(letter.dlqId), 400, 'HERALD_ERR_VALIDATION');
      expect(error.issues).toEqual([{ path: expect.stringContaining('payload'), message: expect.any(String) }]);
    }
    await caughtUp('email');
    // Still there, and still counted.
    const after = (await list()).deadLetters.filter((l) => l.streamId === bad);
    expect(after.map((l) => l.dlqId).sort()).toEqual(letters.map((l) => l.dlqId).sort());
    const counts = Object.fromEntries((await groups()).map((g) => [g.channel, g.deadLetters]));
    expect(counts).toEqual({ email: 2, sms: 3, push: 0 });
  });
});

function pairs(fields: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) out.push([fields[i]!, fields[i + 1]!]);
  return out;
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}
