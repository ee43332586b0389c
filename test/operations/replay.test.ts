import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { streamIdTime, type NotificationStatusView } from '@herald/shared';
import { startStack, type TestStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';

let stack: TestStack;
const ADMIN = { authorization: 'Bearer ak' };
const PUBLISH = { authorization: 'Bearer pk' };

beforeAll(async () => {
  stack = await startStack({ HERALD_API_KEYS: 'pk', HERALD_ADMIN_KEYS: 'ak' });
}, 60_000);
afterEach(async () => {
  await stack.stopWorkers();
});
afterAll(async () => {
  await stack?.close();
});

let counter = 0;
async function publish(type: string): Promise<{ id: string; streamId: string; address: string }> {
  const address = `replay${++counter}@example.com`;
  const res = await stack.pub.app.inject({
    method: 'POST',
    url: '/v1/notifications',
    headers: PUBLISH,
    payload: { userId: `u${counter}`, type, body: 'Hello', channels: ['email'], to: { email: address } },
  });
  expect(res.statusCode, res.body).toBe(202);
  return { ...res.json<{ id: string; streamId: string }>(), address };
}

function mails(address: string): number {
  return stack.smtp.messages.filter((m) => m.to.includes(address)).length;
}

async function emailState(id: string) {
  const res = await stack.pub.app.inject({ method: 'GET', url: `/v1/notifications/${id}`, headers: PUBLISH });
  return res.json<NotificationStatusView>().channels.email;
}

async function replay(body: unknown, headers: Record<string, string> = ADMIN) {
  return stack.pub.app.inject({ method: 'POST', url: '/v1/groups/email/replay', headers, payload: body as object });
}

/** Wait until the email group has nothing left to read or acknowledge. */
async function drained(): Promise<void> {
  await waitFor(
    async () => {
      const res = await stack.pub.app.inject({ method: 'GET', url: '/v1/groups', headers: ADMIN });
      const email = res.json().groups.find((g: { channel: string }) => g.channel === 'email');
      return email.exists && email.lag === 0 && email.pending === 0;
    },
    { what: 'the email group to drain' },
  );
}

describe('replay', () => {
  it('from 0 fills only the gaps: what a worker with the wrong HERALD_TYPES skipped is sent, nothing else again', async () => {
    await stack.spawnWorker('email', { HERALD_TYPES: 'otp' });
    const otp = [await publish('otp'), await publish('otp')];
    const promo = [await publish('promo'), await publish('promo')];
    for (const n of promo) await waitFor(async () => (await emailState(n.id)).reason === 'type_filtered');
    await drained();
    await stack.stopWorkers();
    for (const n of otp) expect(mails(n.address)).toBe(1);
    for (const n of promo) expect(mails(n.address)).toBe(0);

    const res = await replay({ from: '0' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ group: 'email_notifier_group', from: '0-0' });
    expect(res.json().entries).toBeGreaterThanOrEqual(4);

    await stack.spawnWorker('email');
    for (const n of promo)
      await waitFor(async () => (await emailState(n.id)).state === 'delivered', {
        what: `${n.id} delivered by the replay`,
      });
    await drained();
    for (const n of [...otp, ...promo]) expect(mails(n.address)).toBe(1);
  });

  it('with resend delivers every notification once more, and only once more', async () => {
    await stack.spawnWorker('email');
    const sent = [await publish('otp'), await publish('news')];
    for (const n of sent) await waitFor(() => mails(n.address) === 1);
    await drained();

    const res = await replay({ from: sent[0]!.streamId, resend: true });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ from: sent[0]!.streamId, entries: 2, pass: expect.any(Number) });
    for (const n of sent) await waitFor(() => mails(n.address) === 2, { what: `${n.address} sent once more` });
    await drained();
    // Walking them again without resend sends nothing more: the new pass's claims hold.
    expect((await replay({ from: sent[0]!.streamId })).statusCode).toBe(200);
    await drained();
    for (const n of sent) expect(mails(n.address)).toBe(2);
    expect((await emailState(sent[0]!.id)).state).toBe('delivered');
  });

  it('from an ISO-8601 time walks the entries at or after it', async () => {
    await stack.spawnWorker('email');
    const before = await publish('otp');
    await waitFor(() => Date.now() > streamIdTime(before.streamId));
    const after = [await publish('otp'), await publish('otp')];
    for (const n of [before, ...after]) await waitFor(() => mails(n.address) === 1);
    await drained();

    const at = new Date(streamIdTime(after[0]!.streamId)).toISOString();
    const res = await replay({ from: at, resend: true });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ from: after[0]!.streamId, entries: 2 });
    for (const n of after) await waitFor(() => mails(n.address) === 2);
    await drained();
    expect(mails(before.address)).toBe(1);
  });

  it('without resend sends again what an outage dead-lettered, and a redrive of that letter then sends nothing', async () => {
    await stack.spawnWorker('email');
    stack.smtp.failWith(550, 1);
    const lost = await publish('otp');
    await waitFor(async () => (await emailState(lost.id)).state === 'dead', { what: 'the mail to be dead-lettered' });
    await drained();
    expect(mails(lost.address)).toBe(0);

    expect((await replay({ from: lost.streamId })).statusCode).toBe(200);
    await waitFor(async () => (await emailState(lost.id)).state === 'delivered', { what: 'the replay to deliver it' });
    await drained();
    expect(mails(lost.address)).toBe(1);

    // Its dead letter is still there; redriving it now must not send a second mail.
    const letters = (
      await stack.pub.app.inject({ method: 'GET', url: '/v1/dead-letters?channel=email', headers: ADMIN })
    ).json().deadLetters;
    const letter = letters.find((l: { id: string }) => l.id === lost.id);
    const redrive = await stack.pub.app.inject({
      method: 'POST',
      url: `/v1/dead-letters/${letter.dlqId}/redrive`,
      headers: ADMIN,
    });
    expect(redrive.statusCode).toBe(200);
    expect(redrive.json()).toMatchObject({ id: lost.id, status: 'already_delivered', streamId: null });
    await drained();
    expect(mails(lost.address)).toBe(1);
  });

  it('never moves a group forward past entries it has not read', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const res = await replay({ from: future });
    expect(res.statusCode, res.body).toBe(200);
    const later = await publish('otp');
    await stack.spawnWorker('email');
    await waitFor(() => mails(later.address) === 1, {
      what: 'a notification published after the replay to be delivered',
    });
  });

  it('refuses a start already trimmed away, naming the oldest entry left', async () => {
    const old = await publish('otp');
    const kept = await publish('otp');
    await stack.pub.admin.xtrim(stack.pub.keys.stream, 'MINID', kept.streamId);
    const res = await replay({ from: old.streamId });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('HERALD_ERR_REPLAY_TRIMMED');
    expect(res.json().error.message).toContain(kept.streamId);
    // From 0 means "everything still retained", which is always possible.
    expect((await replay({ from: 0 })).statusCode).toBe(200);
  });

  it('works before anything was ever published: makes the stream and the group where it starts', async () => {
    for (const from of ['0', '1700000000000-0', '2026-01-01T00:00:00Z']) {
      await stack.pub.admin.del(stack.pub.keys.stream);
      const res = await replay({ from });
      expect(res.statusCode, `from ${from}: ${res.body}`).toBe(200);
      expect(res.json()).toMatchObject({ group: 'email_notifier_group', entries: 0 });
    }
    // The group the replay made is the one the workers read.
    const first = await publish('otp');
    await stack.spawnWorker('email');
    await waitFor(() => mails(first.address) === 1, { what: 'the first notification ever published to be delivered' });
  });

  it('makes a group no worker made yet at 0, where a worker would: nothing published before is skipped', async () => {
    await stack.pub.admin.del(stack.pub.keys.stream);
    const unread = await publish('otp');
    const res = await replay({ from: new Date(Date.now() + 3_600_000).toISOString() });
    expect(res.statusCode, res.body).toBe(200);
    await stack.spawnWorker('email');
    await waitFor(() => mails(unread.address) === 1, {
      what: 'the notification published before the replay to be delivered',
    });
  });

  it('needs an admin key, a known channel and a readable start', async () => {
    expect((await replay({ from: '0' }, PUBLISH)).statusCode).toBe(403);
    expect((await replay({ from: '0' }, {})).statusCode).toBe(401);
    const unknown = await stack.pub.app.inject({
      method: 'POST',
      url: '/v1/groups/fax/replay',
      headers: ADMIN,
      payload: { from: '0' },
    });
    expect(unknown.statusCode).toBe(404);
    const bad = await replay({ from: 'yesterday' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.issues[0].path).toBe('from');
    expect((await replay({})).statusCode).toBe(400);
  });
});
