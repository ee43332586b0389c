import { describe, expect, it } from 'vitest';
import { encodeEntry } from '@herald/shared';
import { startPublisher, usePublisher } from '../helpers/publisher.js';
import { waitFor } from '../helpers/wait-for.js';

const ENV = { HERALD_ADMIN_KEYS: 'ak', HERALD_API_KEYS: 'pk' };
const ctx = usePublisher(ENV);

const EMAIL = 'ada@example.com';
const PHONE = '+14155550123';
const BODY = 'Your secret code is 424242';

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** Reads a `text/event-stream` body as it comes: events (split on blank lines) and comments. */
class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly done: Promise<void>;

  constructor(readonly response: Response) {
    this.reader = response.body!.getReader();
    this.done = this.pump();
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
            else {
              const colon = line.indexOf(':');
              const field = line.slice(0, colon);
              const value = line.slice(colon + 1).replace(/^ /, '');
              if (field === 'id' || field === 'event' || field === 'data') event[field] = value;
            }
          }
          if (Object.keys(event).length) this.events.push(event);
        }
      }
    } catch {
      // cancelled or aborted
    } finally {
      this.ended = true;
    }
  }

  entries(): { id: string; data: Record<string, unknown>; raw: string }[] {
    return this.events
      .filter((e) => e.event === 'entry')
      .map((e) => ({ id: e.id!, data: JSON.parse(e.data!) as Record<string, unknown>, raw: e.data! }));
  }

  async waitForEntries(count: number) {
    await waitFor(() => this.entries().length >= count || this.ended, { what: `${count} entries` });
    return this.entries();
  }

  async close(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
    await this.done;
  }

  /** Resolves once the body has ended. */
  get finished(): Promise<void> {
    return this.done;
  }
}

async function openStream(
  base: string,
  query = '',
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<SseClient> {
  const res = await fetch(`${base}/v1/stream${query}`, {
    headers: { authorization: 'Bearer ak', ...headers },
    ...(signal ? { signal } : {}),
  });
  expect(res.status).toBe(200);
  return new SseClient(res);
}

async function publish(base: string, extra: Record<string, unknown> = {}): Promise<{ id: string; streamId: string }> {
  const res = await fetch(`${base}/v1/notifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer pk' },
    body: JSON.stringify({
      userId: 'u1',
      type: 'otp',
      body: BODY,
      channels: ['email', 'sms'],
      to: { email: EMAIL, phone: PHONE },
      ...extra,
    }),
  });
  expect(res.status).toBe(202);
  return (await res.json()) as { id: string; streamId: string };
}

/** The clients of the test's redis-server, one CLIENT LIST line each. */
async function clientLines(): Promise<string[]> {
  return String(await ctx.pub.admin.client('LIST'))
    .split('\n')
    .filter((l) => l.trim());
}

/** Wait until a live-stream reader is blocked in XREAD on the publisher's stream. */
async function readerBlocked(count = 1): Promise<void> {
  await waitFor(async () => (await clientLines()).filter((l) => /\bcmd=xread\b/.test(l)).length >= count, {
    what: 'a blocked XREAD',
  });
}

describe('GET /v1/stream', () => {
  it('sends an `entry` event per new entry: id, notificationId, type, userId, channels, ts; never contact data', async () => {
    const base = await ctx.pub.listen();
    const res = await fetch(`${base}/v1/stream`, { headers: { authorization: 'Bearer ak' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const client = new SseClient(res);
    try {
      await readerBlocked();
      const published = await publish(base, { id: 'live-1' });
      const [entry] = await client.waitForEntries(1);
      expect(entry!.id).toBe(published.streamId);
      expect(entry!.data).toEqual({
        id: published.streamId,
        notificationId: 'live-1',
        type: 'otp',
        userId: 'u1',
        channels: ['email', 'sms'],
        ts: expect.any(Number),
      });
      expect(Math.abs((entry!.data.ts as number) - Date.now())).toBeLessThan(60_000);
      for (const secret of [EMAIL, PHONE, BODY, 'payload', '"to"']) expect(entry!.raw).not.toContain(secret);

      // A second one follows on the same stream, in order.
      const second = await publish(base, { id: 'live-2', channels: undefined });
      const entries = await client.waitForEntries(2);
      expect(entries.map((e) => e.id)).toEqual([published.streamId, second.streamId]);
      expect(entries[1]!.data).toMatchObject({ notificationId: 'live-2', channels: null });
    } finally {
      await client.close();
    }
  });

  it('does not miss an entry appended right after the response head arrived', async () => {
    const base = await ctx.pub.listen();
    const res = await fetch(`${base}/v1/stream`, { headers: { authorization: 'Bearer ak' } });
    expect(res.status).toBe(200);
    const client = new SseClient(res);
    try {
      // The client is connected: from its point of view anything appended now is new.
      const id = await ctx.pub.admin.xadd(
        ctx.pub.keys.stream,
        '*',
        ...encodeEntry({ v: 1, id: 'right-after', userId: 'u1', type: 'otp', payload: { body: 'x' }, ts: Date.now() }),
      );
      await readerBlocked();
      const after = await publish(base, { id: 'later' });
      await waitFor(() => client.entries().some((e) => e.id === after.streamId) || client.ended, {
        what: 'the later entry',
      });
      // The first entry was appended after the client had its 200 and before the later one.
      expect(client.entries().map((e) => e.id)).toEqual([id, after.streamId]);
    } finally {
      await client.close();
    }
  });

  it('replays the entries after ?from=<stream id> first, then follows live', async () => {
    const base = await ctx.pub.listen();
    const a = await publish(base, { id: 'r-a' });
    const b = await publish(base, { id: 'r-b' });
    const c = await publish(base, { id: 'r-c' });
    const client = await openStream(base, `?from=${a.streamId}`);
    try {
      const replayed = await client.waitForEntries(2);
      expect(replayed.map((e) => [e.id, e.data.notificationId])).toEqual([
        [b.streamId, 'r-b'],
        [c.streamId, 'r-c'],
      ]);
      await readerBlocked();
      const d = await publish(base, { id: 'r-d' });
      const all = await client.waitForEntries(3);
      expect(all.map((e) => e.id)).toEqual([b.streamId, c.streamId, d.streamId]);
    } finally {
      await client.close();
    }
  });

  it('?from=0 replays everything; a reconnect with Last-Event-ID resumes after it', async () => {
    const base = await ctx.pub.listen();
    const a = await publish(base, { id: 'z-a' });
    const b = await publish(base, { id: 'z-b' });
    const all = await openStream(base, '?from=0');
    try {
      expect((await all.waitForEntries(2)).map((e) => e.id)).toEqual([a.streamId, b.streamId]);
    } finally {
      await all.close();
    }
    const resumed = await openStream(base, '', { 'last-event-id': a.streamId });
    try {
      expect((await resumed.waitForEntries(1)).map((e) => e.id)).toEqual([b.streamId]);
    } finally {
      await resumed.close();
    }
  });

  it('answers 400 for a bad `from`', async () => {
    const base = await ctx.pub.listen();
    for (const from of ['yesterday', '12-ab', '-1', '$']) {
      const res = await fetch(`${base}/v1/stream?from=${encodeURIComponent(from)}`, {
        headers: { authorization: 'Bearer ak' },
      });
      expect(res.status, from).toBe(400);
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code).toBe('HERALD_ERR_VALIDATION');
    }
    // No reader connection was left behind by the refused requests.
    expect((await clientLines()).filter((l) => /\bcmd=xread\b/.test(l))).toEqual([]);
  });

  it('needs an admin key: 403 with a publish key, 401 with none', async () => {
    const base = await ctx.pub.listen();
    const before = (await clientLines()).length;
    const forbidden = await fetch(`${base}/v1/stream`, { headers: { authorization: 'Bearer pk' } });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { error: { code: string } }).error.code).toBe('HERALD_ERR_FORBIDDEN');
    const anonymous = await fetch(`${base}/v1/stream`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('HERALD_ERR_UNAUTHORIZED');
    const wrong = await fetch(`${base}/v1/stream`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    await wrong.body?.cancel();
    expect((await clientLines()).length).toBe(before);
  });

  it('answers HEAD with the head alone, at once, and opens no Redis connection for it', async () => {
    // Found by test/hostile/headers.test.ts: HEAD ran the stream, whose head Node held back (no
    // body may follow), so the client waited for ever while a reader held a Redis connection.
    const base = await ctx.pub.listen();
    const before = (await clientLines()).length;
    const res = await fetch(`${base}/v1/stream`, {
      method: 'HEAD',
      headers: { authorization: 'Bearer ak' },
      signal: AbortSignal.timeout(5000),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await res.text()).toBe('');
    expect((await clientLines()).length).toBe(before);
  });

  it('a client that disconnects frees its Redis connection (cancel and abort)', async () => {
    const base = await ctx.pub.listen();
    const before = (await clientLines()).length;

    const cancelled = await openStream(base);
    await readerBlocked();
    expect((await clientLines()).length).toBe(before + 1);
    await cancelled.close();
    await waitFor(async () => (await clientLines()).length === before, {
      what: 'the reader connection to close after cancel',
    });

    const controller = new AbortController();
    const aborted = await openStream(base, '', {}, controller.signal);
    const other = await openStream(base);
    await readerBlocked(2);
    expect((await clientLines()).length).toBe(before + 2);
    controller.abort();
    await aborted.finished;
    await waitFor(async () => (await clientLines()).length === before + 1, {
      what: 'the reader connection to close after abort',
    });

    // The other client is not affected.
    const published = await publish(base, { id: 'still-here' });
    expect((await other.waitForEntries(1)).map((e) => e.id)).toEqual([published.streamId]);
    await other.close();
    await waitFor(async () => (await clientLines()).length === before, { what: 'all reader connections closed' });
  });

  it('closing the publisher ends the open streams and finishes promptly', async () => {
    const pub = await startPublisher(ctx.redis.url, ENV);
    let closed = false;
    try {
      const base = await pub.listen();
      const clients = [await openStream(base), await openStream(base, '?from=0')];
      await readerBlocked(2);
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('pub.close() did not finish within 4 s')), 4000);
      });
      try {
        await Promise.race([pub.close(), deadline]);
        closed = true;
      } finally {
        clearTimeout(timer);
      }
      expect(Date.now() - started).toBeLessThan(4000);
      await Promise.all(clients.map((c) => c.finished));
      expect(clients.every((c) => c.ended)).toBe(true);
      await waitFor(async () => (await clientLines()).every((l) => !/\bcmd=xread\b/.test(l)), {
        what: 'the readers to be gone',
      });
    } finally {
      if (!closed) await pub.close();
    }
  });
});
