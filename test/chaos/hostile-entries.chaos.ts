import { expect, it } from 'vitest';
import { CHANNELS, decodeChannelStatus, statusField, toDeadLetterView, type Channel } from '@herald/shared';
import { useStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait-for.js';
import { addUsers } from './chaos-users.js';
import { DeliveryTally } from './delivery-tally.js';
import { ATTACKER, INJECTED_HEADER, hostileEntries } from './hostile-entries.js';
import { printRow } from './scenario-row.js';
import { groupsDrained } from './stream-state.js';

/**
 * Hostile entries: 10000 entries XADDed straight into the stream by another producer, most of
 * them broken or hostile. Each must end delivered safely, skipped or dead-lettered with a
 * reason, on every channel; no worker may crash; no injected header may reach a mail.
 */
const ENTRIES = 10_000;
const SEED = 7;
const DEAD_LETTER_REASONS = ['malformed', 'permanent', 'gone', 'max_attempts'];

const ctx = useStack();

it('delivers, skips or dead-letters every hostile entry with a reason, crashes no worker and lets no header in', async () => {
  const { stack } = ctx;
  const { userIds } = await addUsers(stack, 20, 'hostile');
  // A user whose id is a number, as a producer with numeric ids would write it.
  const numeric = await stack.pub.app.inject({
    method: 'PUT',
    url: '/v1/users/42',
    payload: { email: 'forty-two@example.com', phone: '+14155550142' },
  });
  expect(numeric.statusCode).toBe(200);
  const tally = new DeliveryTally(stack);
  const workers = await Promise.all(CHANNELS.map((channel) => stack.spawnWorker(channel)));
  const pids = workers.map((w) => w.child.pid);

  const entries = hostileEntries(ENTRIES, [...userIds, '42'], SEED);
  const started = Date.now();
  const streamIds: string[] = [];
  for (let from = 0; from < entries.length; from += 250) {
    const pipeline = stack.pub.admin.pipeline();
    for (const entry of entries.slice(from, from + 250)) pipeline.xadd(stack.pub.keys.stream, '*', ...entry.fields);
    for (const [err, streamId] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      streamIds.push(streamId as string);
    }
  }
  await waitFor(() => groupsDrained(stack.pub.admin, stack.pub.keys), {
    timeoutMs: 240_000,
    intervalMs: 250,
    what: 'every hostile entry settled in all three groups',
  });
  const seconds = (Date.now() - started) / 1000;

  // Dead letters by entry and channel, each with its reason.
  const letters = await stack.pub.admin.xrange(stack.pub.keys.deadLetters, '-', '+');
  const deadLettered = new Map<string, string>();
  for (const [dlqId, fields] of letters) {
    const { channel, streamId, reason } = toDeadLetterView(dlqId, fields);
    expect(DEAD_LETTER_REASONS, `${streamId} ${channel}`).toContain(reason);
    expect(deadLettered.has(`${streamId} ${channel}`), `dead-lettered twice: ${streamId} ${channel}`).toBe(false);
    deadLettered.set(`${streamId} ${channel}`, reason);
  }

  // Every other entry has its id, and its status says delivered or skipped (with a reason).
  const records = stack.pub.admin.pipeline();
  for (const entry of entries) records.hgetall(stack.pub.keys.notification(entry.id ?? ''));
  const hashes = ((await records.exec()) ?? []).map(([, hash]) => hash as Record<string, string>);
  const delivered: Record<Channel, string[]> = { email: [], sms: [], push: [] };
  const outcomes: Record<string, number> = {};
  const outcomesByKind = new Map<string, Set<string>>();
  const unaccounted: string[] = [];
  entries.forEach((entry, i) => {
    for (const channel of CHANNELS) {
      const letter = deadLettered.get(`${streamIds[i]} ${channel}`);
      const status = entry.id ? decodeChannelStatus(hashes[i]?.[statusField(channel)]) : undefined;
      let outcome: string;
      if (letter) outcome = `dead-lettered ${letter}`;
      else if (status?.state === 'delivered') {
        outcome = 'delivered';
        delivered[channel].push(entry.id!);
      } else if (status?.state === 'skipped' && status.reason) outcome = `skipped ${status.reason}`;
      else {
        unaccounted.push(`${entry.kind} ${streamIds[i]} ${channel}: ${JSON.stringify(status)}`);
        continue;
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      outcomesByKind.set(entry.kind, (outcomesByKind.get(entry.kind) ?? new Set()).add(outcome));
    }
  });
  const summary = tally.summarise(delivered);
  printRow({
    scenario: 'hostile entries',
    published: entries.length,
    delivered: summary.delivered,
    lost: summary.lost + unaccounted.length,
    duplicated: summary.duplicated,
    deadLettered: letters.length,
    seconds,
  });
  console.log(`outcomes (entry × channel): ${JSON.stringify(outcomes)}`);

  expect(unaccounted.slice(0, 10)).toEqual([]);
  // Each kind the outcome it must have, not just any of the three: what does not decode is
  // dead-lettered as malformed on every channel; a well-formed entry never is.
  for (const kind of ['missing field', 'wrong type', 'invalid JSON'])
    expect([...(outcomesByKind.get(kind) ?? [])], kind).toEqual(['dead-lettered malformed']);
  expect([...(outcomesByKind.get('expired') ?? [])], 'expired').toEqual(['skipped expired']);
  expect(
    [...(outcomesByKind.get('valid') ?? [])].filter((o) => o.startsWith('dead-lettered')),
    'valid',
  ).toEqual([]);
  expect(outcomesByKind.get('valid')).toContain('delivered');
  // What the status calls delivered did arrive, once.
  expect(summary.lost, JSON.stringify(summary.lostIds).slice(0, 500)).toBe(0);
  const duplicatedIds = CHANNELS.flatMap((c) =>
    [...tally.counts(c)]
      .filter(([, n]) => n > 1)
      .map(([id, n]) => `${c} ${id} ×${n} ${entries.find((e) => e.id === id)?.kind}`),
  );
  expect(duplicatedIds).toEqual([]);
  // The same three processes, still running.
  expect(workers.map((w) => [w.child.pid, w.child.exitCode, w.child.signalCode])).toEqual(
    pids.map((pid) => [pid, null, null]),
  );

  // No mail carries an injected header or reaches the attacker.
  expect(stack.smtp.messages.length).toBeGreaterThan(0);
  for (const mail of stack.smtp.messages) {
    const head = mail.raw.slice(0, mail.raw.indexOf('\r\n\r\n'));
    expect(head).not.toMatch(new RegExp(`^(bcc|${INJECTED_HEADER}):`, 'im'));
    expect(Object.keys(mail.headers)).not.toContain('bcc');
    expect(Object.keys(mail.headers)).not.toContain(INJECTED_HEADER.toLowerCase());
    expect(mail.to).not.toContain(ATTACKER);
    // One Subject line. (A title holding an RFC 2047 encoded word of CRLF goes out as that
    // ASCII text inside the one header, which a reader decodes into a subject with a line break:
    // shown to a person, never parsed as a header.)
    expect(head.match(/^subject:/gim)).toHaveLength(1);
  }
}, 300_000);
