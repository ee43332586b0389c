/**
 * Entries another producer might XADD into the stream: some well-formed, most broken or hostile
 * (missing fields, wrong types, invalid JSON, 1 MB fields, invalid UTF-8, CRLF meant to inject
 * mail headers, numbers as user ids). Drawn from a seeded generator, so a failure can be replayed.
 */

/** Where injected mail headers would point: no mail may ever name it. */
export const ATTACKER = 'attacker@evil.test';
/** A header line the injections try to add. */
export const INJECTED_HEADER = 'X-Injected';

const CRLF_INJECTIONS = [
  `Hello\r\nBcc: ${ATTACKER}`,
  `Hello\r\n${INJECTED_HEADER}: yes`,
  `Hello\nBcc: ${ATTACKER}\n\nforged body`,
  `Hello\rBcc: ${ATTACKER}`,
  `Hello\u2028Bcc: ${ATTACKER}`,
  `=?utf-8?Q?Hello=0D=0ABcc:_${ATTACKER}?=`,
];
const INVALID_UTF8 = [
  Buffer.from([0xff, 0xfe, 0xfd]),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from('ok\xed\xa0\x80', 'latin1'),
];
const MEGABYTE = 1024 * 1024;
/** 1 MB values are few: each may be copied into a dead letter once per channel. */
const MAX_HUGE = 12;

export type FieldValue = string | Buffer;

/** One generated entry: its fields in XADD order, and what it was meant to test. */
export interface HostileEntry {
  kind: string;
  /** The notification id it carries when it has a usable one (unique per entry), else undefined. */
  id?: string;
  fields: FieldValue[];
}

/** A small deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` entries for `userIds` (users with an address, a number and a push subscription) and
 * for users that do not exist. Every entry with a usable id has a unique one, `h-<n>`, and its
 * body starts with `ref:<id>`, so each arrival can be traced to its entry.
 */
export function hostileEntries(count: number, userIds: string[], seed: number): HostileEntry[] {
  const rnd = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  let huge = 0;
  const entries: HostileEntry[] = [];

  for (let n = 0; n < count; n++) {
    const id = `h-${n}`;
    const base: Record<string, FieldValue> = {
      v: '1',
      id,
      userId: pick(userIds),
      type: 'alert',
      payload: JSON.stringify({ title: 'Hello', body: `ref:${id} hello` }),
      ts: String(Date.now()),
    };
    const payloadWith = (extra: Record<string, unknown>) =>
      JSON.stringify({ title: 'Hello', body: `ref:${id} hello`, ...extra });
    let kind: string;
    let usable = true;
    const roll = rnd();
    if (roll < 0.15) {
      kind = 'valid';
    } else if (roll < 0.2) {
      kind = pick(['unknown user', 'numeric unknown user', 'expired', 'one channel']);
      if (kind === 'unknown user') base.userId = `nobody-${n}`;
      if (kind === 'numeric unknown user') base.userId = String(100_000 + n);
      if (kind === 'expired') base.expiresAt = String(Date.now() - 1000);
      if (kind === 'one channel') base.channels = pick(['email', 'sms', 'push', 'email,push']);
    } else if (roll < 0.3) {
      kind = 'missing field';
      delete base[pick(['v', 'id', 'userId', 'type', 'payload', 'ts'])];
      usable = false;
    } else if (roll < 0.45) {
      kind = 'wrong type';
      const [field, value] = pick<[string, string]>([
        ['v', '2'],
        ['v', ''],
        ['v', '1.0'],
        ['ts', 'yesterday'],
        ['ts', '-5'],
        ['ts', '1e12'],
        ['expiresAt', 'soon'],
        ['channels', 'fax'],
        ['channels', 'email,email'],
        ['channels', ''],
        ['type', 'UPPER'],
        ['type', ''],
        ['id', 'has space'],
        ['id', ''],
        ['userId', ''],
        ['payload', '[]'],
        ['payload', '"text"'],
        ['payload', 'null'],
        ['payload', '42'],
        ['payload', '{"body":42}'],
        ['payload', '{"body":""}'],
        ['payload', '{"title":"t"}'],
        ['payload', '{"body":"b","data":[1]}'],
        ['payload', '{"body":"b","url":"javascript:alert(1)"}'],
        ['payload', '{"body":"b","extra":1}'],
        ['to', '{"email":42}'],
        ['to', '{"phone":14155550123}'],
        ['to', '{"phone":"0800"}'],
        ['to', '[]'],
        ['to', '{"fax":"1"}'],
      ]);
      base[field] = value;
      usable = false;
    } else if (roll < 0.55) {
      kind = 'invalid JSON';
      base[pick(['payload', 'to'])] = pick(['{not json', '{"body":"x"', "{'body':'x'}", '', '{"body":"x"}}', '\u0000']);
      usable = false;
    } else if (roll < 0.65) {
      kind = 'invalid UTF-8';
      const field = pick(['userId', 'type', 'id', 'title', 'body', 'junk']);
      const bad = pick(INVALID_UTF8);
      if (field === 'title' || field === 'body') {
        // Spliced into the JSON text itself: the bytes reach the decoder as they are.
        const [before, after] = payloadWith({ [field]: 'XX' }).split('XX') as [string, string];
        base.payload = Buffer.concat([
          Buffer.from(before),
          field === 'body' ? Buffer.from(`ref:${id} `) : Buffer.alloc(0),
          bad,
          Buffer.from(after),
        ]);
      } else {
        base[field] = bad;
        if (field === 'id') usable = false;
      }
    } else if (roll < 0.8) {
      kind = 'CRLF injection';
      const where = pick(['title', 'to.email', 'url', 'body', 'userId', 'type', 'id', 'data']);
      const text = pick(CRLF_INJECTIONS);
      if (where === 'title') base.payload = payloadWith({ title: text });
      if (where === 'to.email') base.to = JSON.stringify({ email: `victim@example.com\r\nBcc: ${ATTACKER}` });
      if (where === 'url') base.payload = payloadWith({ url: `https://example.com/\r\n${INJECTED_HEADER}: yes` });
      if (where === 'body') base.payload = payloadWith({ body: `ref:${id} ${text}` });
      if (where === 'data') base.payload = payloadWith({ data: { subject: text } });
      if (where === 'userId' || where === 'type' || where === 'id') base[where] = text;
      if (where === 'id') usable = false;
    } else if (roll < 0.9) {
      kind = 'numbers as ids';
      const variant = pick(['userId', 'id', 'to', 'payload']);
      if (variant === 'userId') base.userId = pick(['42', '0', '-1', '1e3', '9007199254740993']);
      if (variant === 'id') {
        base.id = String(1_000_000 + n);
        base.payload = JSON.stringify({ body: `ref:${base.id} hello` });
      }
      if (variant === 'to') base.to = JSON.stringify({ email: 42, phone: 4155550123 });
      if (variant === 'payload') base.payload = JSON.stringify({ title: 7, body: 8 });
      if (variant === 'to' || variant === 'payload') usable = false;
    } else if (roll < 0.95 && huge < MAX_HUGE) {
      kind = '1 MB field';
      huge++;
      const big = 'x'.repeat(MEGABYTE);
      const field = pick(['body', 'title', 'userId', 'junk', 'data']);
      if (field === 'body') base.payload = payloadWith({ body: `ref:${id} ${big}` });
      if (field === 'title') base.payload = payloadWith({ title: big });
      if (field === 'data') base.payload = payloadWith({ data: { big } });
      if (field === 'userId' || field === 'junk') base[field] = big;
    } else {
      kind = pick(['duplicate field', 'many fields', 'odd names']);
      const fields: FieldValue[] = Object.entries(base).flat();
      if (kind === 'duplicate field') fields.push('v', '1');
      if (kind === 'many fields') for (let i = 0; i < 1500; i++) fields.push(`f${i}`, String(i));
      if (kind === 'odd names') fields.push('', 'empty name', '__proto__', '{"polluted":true}', 'constructor', 'x');
      entries.push({ kind, id: kind === 'duplicate field' ? undefined : id, fields });
      continue;
    }
    const usableId =
      usable && typeof base.id === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(base.id) ? base.id : undefined;
    entries.push({ kind, ...(usableId ? { id: usableId } : {}), fields: Object.entries(base).flat() });
  }
  return entries;
}
