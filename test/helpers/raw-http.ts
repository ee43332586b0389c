import { connect } from 'node:net';

/** One response as it came over the wire; header names lower-cased, the body decoded as UTF-8. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawExchangeOptions {
  /**
   * End the writing side after the request: for a request that sends less body than it declares,
   * so the server sees the end instead of waiting for the rest.
   */
  halfClose?: boolean;
  /** The request is HEAD: its answer has headers only. */
  head?: boolean;
  /** Give up (and fail) when the server neither answers nor closes by then. Default 10000. */
  timeoutMs?: number;
}

/**
 * A plain HTTP/1.1 request as text, `Connection: close`, with a JSON body when `body` is given:
 * for a hostile method or target, sent with rawExchange as written.
 */
export function plainRequest(
  method: string,
  target: string,
  { authorization, body = '' }: { authorization?: string | undefined; body?: string } = {},
): string {
  const lines = [
    `${method} ${target} HTTP/1.1`,
    'Host: 127.0.0.1',
    ...(authorization ? [`Authorization: ${authorization}`] : []),
    ...(body ? ['Content-Type: application/json'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * Send `request` byte for byte over a fresh connection and collect every response until the
 * server closes it: for requests no well-behaved HTTP client would send (bad framing, control
 * characters, duplicated headers). Send `Connection: close`, or the server keeps the connection
 * open. A server-sent event stream is cut after its headers; 1xx answers are left out.
 */
export function rawExchange(
  port: number,
  request: Buffer | string,
  options: RawExchangeOptions = {},
): Promise<RawResponse[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no answer and no close within ${options.timeoutMs ?? 10_000} ms; ` +
            `received so far: ${received.toString('latin1').slice(0, 500)}`,
        ),
      );
    }, options.timeoutMs ?? 10_000);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      try {
        resolve(parseResponses(received, options.head ?? false));
      } catch (err) {
        reject(err);
      }
    };
    socket.on('connect', () => {
      socket.write(request);
      if (options.halfClose) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // An event stream never ends: done once its head is in (after any 100 Continue).
      const text = received.toString('latin1');
      const stream = /^content-type: *text\/event-stream/im.exec(text);
      if (stream && text.indexOf('\r\n\r\n', stream.index) >= 0) finish();
    });
    // A server that closes on a request it cannot parse may reset rather than close cleanly.
    socket.on('error', () => {});
    socket.on('close', finish);
  });
}

function parseResponses(data: Buffer, head: boolean): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest: Buffer = data;
  while (rest.length > 0) {
    const parsed = parseHead(rest);
    if (!parsed) throw new Error(`an incomplete response head: ${rest.toString('latin1').slice(0, 500)}`);
    const { status, headers } = parsed;
    rest = parsed.rest;
    let body: Buffer = Buffer.alloc(0);
    const informational = status < 200;
    // An answer to HEAD has no body, except the one a server sends when it cannot parse the
    // request at all (so does not know it was HEAD) and then closes: tell them apart by what follows.
    const headAnswer =
      head && responses.length === 0 && (rest.length === 0 || rest.subarray(0, 7).toString('latin1') === 'HTTP/1.');
    if (informational || headAnswer || headers['content-type']?.startsWith('text/event-stream')) {
      // No body to read.
    } else if (headers['transfer-encoding'] === 'chunked') {
      const chunks: Buffer[] = [];
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
        if (lineEnd < 0 || Number.isNaN(size)) throw new Error('a malformed chunked body');
        chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
        rest = rest.subarray(lineEnd + 2 + size + 2);
        if (size === 0) break;
      }
      body = Buffer.concat(chunks);
    } else {
      const length = Number(headers['content-length'] ?? rest.length);
      body = rest.subarray(0, length);
      rest = rest.subarray(length);
    }
    if (!informational) responses.push({ status, headers, body: body.toString('utf8') });
    // What follows an event stream's head is its events, cut off where the client stopped reading.
    if (headers['content-type']?.startsWith('text/event-stream')) break;
  }
  return responses;
}

/** A response's status line and headers, if all of them are in `data`; `rest` is what follows. */
function parseHead(data: Buffer): { status: number; headers: Record<string, string>; rest: Buffer } | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine!);
  if (!status) throw new Error(`not an HTTP response: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(status[1]), headers, rest: data.subarray(end + 4) };
}

/**
 * The first whole answer at the start of `data` (its head and a body framed by Content-Length)
 * and the bytes after it, or undefined while it is not all in: for a connection kept open.
 */
export function takeResponse(data: Buffer): { response: RawResponse; rest: Buffer } | undefined {
  const parsed = parseHead(data);
  if (!parsed) return undefined;
  const length = Number(parsed.headers['content-length'] ?? 0);
  if (parsed.rest.length < length) return undefined;
  const response = {
    status: parsed.status,
    headers: parsed.headers,
    body: parsed.rest.subarray(0, length).toString('utf8'),
  };
  return { response, rest: parsed.rest.subarray(length) };
}
