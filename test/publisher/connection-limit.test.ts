import { describe, expect, it } from 'vitest';
import { usePublisher } from '../helpers/publisher.js';
import { RawConnection, connectionCount } from '../helpers/raw-connection.js';
import { waitFor } from '../helpers/wait-for.js';

/** HERALD_MAX_CONNECTIONS (issue 12): what many idle or slow clients can hold is capped. */
const ctx = usePublisher({ HERALD_MAX_CONNECTIONS: '4' });

const HEALTH = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

/** A kept-alive connection the publisher has served once. */
async function served(port: number): Promise<RawConnection> {
  const connection = await RawConnection.open(port);
  connection.send(HEALTH);
  expect((await connection.response()).status).toBe(200);
  return connection;
}

describe('HERALD_MAX_CONNECTIONS', () => {
  it('closes connections beyond the cap without an answer, serves the open ones, and serves new ones once some close', async () => {
    const port = Number(new URL(await ctx.pub.listen()).port);
    const server = ctx.pub.app.server;
    const held: RawConnection[] = [];
    const extras: RawConnection[] = [];
    try {
      for (let i = 0; i < 4; i++) held.push(await served(port));
      expect(await connectionCount(server)).toBe(4);

      for (let i = 0; i < 3; i++) {
        const extra = await RawConnection.open(port);
        extras.push(extra);
        extra.send(HEALTH);
        await extra.closedWithin(5000, 'the publisher to close a connection beyond HERALD_MAX_CONNECTIONS');
        expect(extra.pending.length).toBe(0);
      }

      // The connections within the cap are still served.
      for (const connection of held) {
        connection.send(HEALTH);
        expect((await connection.response()).status).toBe(200);
        expect(connection.isClosed).toBe(false);
      }

      held.shift()!.close();
      await waitFor(async () => (await connectionCount(server)) === 3, {
        what: 'the publisher to see the connection closed',
      });
      held.push(await served(port));
      expect(await connectionCount(server)).toBe(4);
    } finally {
      for (const connection of [...held, ...extras]) connection.close();
    }
  });

  it('defaults to 1000', async () => {
    const pub = await ctx.restart({ HERALD_MAX_CONNECTIONS: '' });
    expect(pub.app.server.maxConnections).toBe(1000);
  });
});
