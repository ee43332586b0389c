import { describe, expect, it } from 'vitest';
import { usePublisher } from '../helpers/publisher.js';
import { connectionCount, withConnection, withConnections } from '../helpers/raw-connection.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Slow and wide requests (issue 12): 1000 sockets trickling a body with no key held the
 * publisher's file handles past 75 s, and a keyed request with a trickled body had no answer
 * after 100 s. A refused request is answered and closed at once; any other request must arrive
 * in full within HERALD_BODY_TIMEOUT_MS.
 */
const KEYS = { HERALD_API_KEYS: 'pk', HERALD_ADMIN_KEYS: 'ak' };
const ctx = usePublisher(KEYS);

const NOTIFICATION = JSON.stringify({ userId: 'u1', type: 'otp', body: 'Your code is 123456' });

function head(
  method: string,
  path: string,
  { authorization, length }: { authorization?: string; length?: number } = {},
): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
  if (authorization) lines.push(`Authorization: ${authorization}`);
  if (length !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${length}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

async function listen(env: Record<string, string> = {}): Promise<number> {
  const pub = await ctx.restart(env);
  return Number(new URL(await pub.listen()).port);
}

describe('a request refused before its body is read', () => {
  it('is answered and its connection closed at once, for 200 sockets trickling a large body without a key', async () => {
    // The body deadline is far away: only the refusal may close these connections.
    const port = await listen({ HERALD_BODY_TIMEOUT_MS: '120000' });
    const server = ctx.pub.app.server;
    const baseline = await connectionCount(server);
    await withConnections(port, 200, async (connections) => {
      for (const connection of connections) {
        connection.send(head('POST', '/v1/notifications', { length: 1_000_000 }));
        connection.trickle(' '.repeat(1000), 100);
      }
      const answers = await Promise.all(connections.map((connection) => connection.response(15_000)));
      for (const answer of answers) {
        expect(answer.status).toBe(401);
        expect(JSON.parse(answer.body).error.code).toBe('HERALD_ERR_UNAUTHORIZED');
        expect(answer.headers.connection).toBe('close');
      }
      await Promise.all(
        connections.map((connection) => connection.closedWithin(5000, 'the server to close a refused connection')),
      );
    });
    await waitFor(async () => (await connectionCount(server)) === baseline, {
      timeoutMs: 5000,
      what: 'the connection count back at its baseline',
    });
  });

  it('is closed for a publish key on an admin route (403) too, while a complete refused request keeps its connection', async () => {
    const port = await listen({ HERALD_BODY_TIMEOUT_MS: '120000' });
    await withConnections(port, 2, async ([trickled, complete]) => {
      trickled!.send(head('POST', '/v1/groups/email/replay', { authorization: 'Bearer pk', length: 100_000 }));
      trickled!.trickle(' '.repeat(1000), 100);
      const refused = await trickled!.response();
      expect(refused.status).toBe(403);
      expect(refused.headers.connection).toBe('close');
      await trickled!.closedWithin(5000, 'the server to close the refused connection');

      // Nothing left unread: the connection stays open for the next request.
      complete!.send(head('GET', '/v1/users/u1'));
      expect((await complete!.response()).status).toBe(401);
      complete!.send(head('GET', '/v1/users/u1', { authorization: 'Bearer pk' }));
      expect((await complete!.response()).status).toBe(404);
      expect(complete!.isClosed).toBe(false);
    });
  });
});

describe('HERALD_BODY_TIMEOUT_MS', () => {
  it('answers 408 HERALD_ERR_REQUEST_TIMEOUT and closes the connection when a keyed body does not arrive in time', async () => {
    const port = await listen({ HERALD_BODY_TIMEOUT_MS: '1000' });
    await withConnection(port, async (connection) => {
      const started = Date.now();
      connection.send(head('POST', '/v1/notifications', { authorization: 'Bearer pk', length: NOTIFICATION.length }));
      // One byte every 200 ms: the whole body would take about 12 s.
      connection.trickle(NOTIFICATION, 200);
      const answer = await connection.response(10_000);
      const elapsed = Date.now() - started;
      expect(answer.status).toBe(408);
      expect(JSON.parse(answer.body).error.code).toBe('HERALD_ERR_REQUEST_TIMEOUT');
      expect(answer.headers.connection).toBe('close');
      // Not before the deadline, and within about a second of it (generous margin for a busy machine).
      expect(elapsed).toBeGreaterThanOrEqual(950);
      expect(elapsed).toBeLessThan(5000);
      await connection.closedWithin(5000, 'the server to close the timed-out connection');
    });
    expect(await ctx.pub.admin.exists(ctx.pub.keys.stream)).toBe(0);
  });

  it('answers 408 to a request whose head never ends (slowloris)', async () => {
    const port = await listen({ HERALD_BODY_TIMEOUT_MS: '1000' });
    await withConnection(port, async (connection) => {
      connection.send('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      connection.trickle(`X-Slow: ${'a'.repeat(200)}`, 200);
      expect((await connection.response(10_000)).status).toBe(408);
      await connection.closedWithin(5000, 'the server to close the timed-out connection');
    });
  });

  it('serves a body that arrives in time, even in pieces', async () => {
    const port = await listen({ HERALD_BODY_TIMEOUT_MS: '1000' });
    await withConnection(port, async (connection) => {
      connection.send(head('POST', '/v1/notifications', { authorization: 'Bearer pk', length: NOTIFICATION.length }));
      // Four pieces 50 ms apart: in well within the second.
      connection.trickle(NOTIFICATION, 50, Math.ceil(NOTIFICATION.length / 4));
      const answer = await connection.response();
      expect(answer.status).toBe(202);
      expect(answer.headers.connection).not.toBe('close');
    });
  });

  it('does not cut a live stream, whose request is complete while its answer goes on', async () => {
    const base = await ctx.restart({ HERALD_BODY_TIMEOUT_MS: '1000' }).then((pub) => pub.listen());
    const res = await fetch(`${base}/v1/stream`, { headers: { authorization: 'Bearer ak' } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += Buffer.from(value).toString('utf8');
      }
    })().catch(() => undefined);
    try {
      // The heartbeat comes after 5 s of quiet: well past the deadline and its checks.
      await waitFor(() => text.includes(': keep-alive'), { what: 'a heartbeat on the live stream' });
      const published = await fetch(`${base}/v1/notifications`, {
        method: 'POST',
        headers: { authorization: 'Bearer pk', 'content-type': 'application/json' },
        body: NOTIFICATION,
      });
      const { streamId } = (await published.json()) as { streamId: string };
      await waitFor(() => text.includes(`id: ${streamId}`), { what: 'the entry on the live stream' });
    } finally {
      await reader.cancel().catch(() => undefined);
      await pump;
    }
  });
});
