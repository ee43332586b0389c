import { connect, type Socket } from 'node:net';
import { takeResponse, type RawResponse } from './raw-http.js';
import { waitFor } from './wait-for.js';

/**
 * One TCP connection to a server, kept open across requests and written to byte for byte: for
 * what a slow or hostile client does with a connection (trickle a body, hold it idle, open many)
 * and what the server does back (answer, close, refuse).
 */
export class RawConnection {
  /** Resolves when the connection is closed, by either side. */
  readonly closed: Promise<void>;
  private received: Buffer = Buffer.alloc(0);
  private ended = false;
  private trickler: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.ended = true;
        clearInterval(this.trickler);
        this.notify();
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.notify();
    });
    // A server that closes while the client still writes answers with a reset; the close follows.
    socket.on('error', () => undefined);
  }

  /** A connection once it is made (the server may still close it at once: see `closed`). */
  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Bytes received and not yet taken as an answer. */
  get pending(): Buffer {
    return this.received;
  }

  send(data: string | Buffer): void {
    if (!this.ended && this.socket.writable) this.socket.write(data);
  }

  /** Send `data` `size` bytes every `everyMs`, until it is all sent or the connection closes. */
  trickle(data: string, everyMs: number, size = 1): void {
    let next = 0;
    this.trickler = setInterval(() => {
      if (next >= data.length) return void clearInterval(this.trickler);
      this.send(data.slice(next, (next += size)));
    }, everyMs);
  }

  /** The next whole answer; fails when the connection closes first or after `timeoutMs`. */
  response(timeoutMs = 10_000): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(
          new Error(
            `no whole answer within ${timeoutMs} ms; received: ${this.received.toString('latin1').slice(0, 300)}`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        const taken = takeResponse(this.received);
        if (!taken && !this.ended) return;
        this.listeners.delete(check);
        clearTimeout(timer);
        if (!taken)
          return reject(
            new Error(`closed before a whole answer; received: ${this.received.toString('latin1').slice(0, 300)}`),
          );
        this.received = taken.rest;
        resolve(taken.response);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Resolves when the connection closes; fails after `timeoutMs` with `what` in the message. */
  async closedWithin(timeoutMs: number, what = 'the connection to close'): Promise<void> {
    await waitFor(() => this.ended, { timeoutMs, what });
  }

  close(): void {
    clearInterval(this.trickler);
    this.socket.destroy();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Run `fn` with `count` fresh connections to `port`, closed afterwards whatever happens. */
export async function withConnections<T>(
  port: number,
  count: number,
  fn: (connections: RawConnection[]) => Promise<T>,
): Promise<T> {
  const connections = await Promise.all(Array.from({ length: count }, () => RawConnection.open(port)));
  try {
    return await fn(connections);
  } finally {
    for (const connection of connections) connection.close();
  }
}

/** Run `fn` with a fresh connection to `port`, closed afterwards whatever happens. */
export function withConnection<T>(port: number, fn: (connection: RawConnection) => Promise<T>): Promise<T> {
  return withConnections(port, 1, ([connection]) => fn(connection!));
}

/** How many connections `server` holds open right now. */
export function connectionCount(server: {
  getConnections(cb: (err: Error | null, count: number) => void): unknown;
}): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, count) => (err ? reject(err) : resolve(count))));
}
