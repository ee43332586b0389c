import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HeraldError, type ErrorCode } from '@herald/shared';

/** Fastify's own errors, mapped to the registry so every 4xx and 5xx has Herald's shape. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'HERALD_ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'HERALD_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'HERALD_ERR_BAD_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'HERALD_ERR_BAD_JSON',
  FST_ERR_BAD_URL: 'HERALD_ERR_VALIDATION',
  FST_ERR_MAX_PARAM_LENGTH: 'HERALD_ERR_VALIDATION',
};

const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The request body is empty; send a JSON object',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'The request body does not match its Content-Length',
  FST_ERR_BAD_URL: 'The URL is not valid: check its percent-encoding',
  FST_ERR_MAX_PARAM_LENGTH: 'A path parameter is too long',
};

/** Turn anything thrown while handling a request into a HeraldError. */
export function toHeraldError(err: unknown): HeraldError {
  if (err instanceof HeraldError) return err;
  const e = err as Partial<FastifyError> & { statusCode?: number };
  const code = e.code ? FASTIFY_CODES[e.code] : undefined;
  if (code) {
    const message =
      code === 'HERALD_ERR_PAYLOAD_TOO_LARGE'
        ? 'The request body is too large'
        : code === 'HERALD_ERR_UNSUPPORTED_MEDIA_TYPE'
          ? `Content-Type must be application/json`
          : (FASTIFY_MESSAGES[e.code!] ?? e.message);
    return new HeraldError(code, message);
  }
  // Bodies that are not JSON are explained in json-body.ts before any route runs, so any other
  // SyntaxError is the server's own (corrupt stored data): a 500, logged, like any other fault.
  if (e.statusCode === 404) return new HeraldError('HERALD_ERR_NOT_FOUND');
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return new HeraldError('HERALD_ERR_VALIDATION', e.message ?? 'Bad request');
  }
  return new HeraldError('HERALD_ERR_INTERNAL');
}

export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const heraldError = toHeraldError(err);
  if (heraldError.status >= 500) {
    request.log.error({ err: err instanceof HeraldError && err.cause ? err.cause : err }, heraldError.code);
  }
  return reply.code(heraldError.status).type('application/json').send(heraldError.toBody());
}

/**
 * Answers for requests Node's HTTP parser refuses before Fastify sees them (a malformed request
 * line or header, headers over 16 KiB, a body that never arrives), in Herald's error shape like
 * every other 4xx. Unlike Fastify's default it logs nothing: the error carries the raw bytes
 * received (`rawPacket`), Authorization header included.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new HeraldError('HERALD_ERR_REQUEST_TIMEOUT')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new HeraldError('HERALD_ERR_HEADERS_TOO_LARGE', 'The request line and headers are over 16 KiB')
        : new HeraldError('HERALD_ERR_VALIDATION', 'The request is not valid HTTP/1.1');
  answerOnSocket(socket, error);
}

/**
 * `CONNECT host:port` asks for a tunnel, which the publisher is not: 404 like any other method and
 * path it has no route for. Without this Node drops the connection without an answer.
 */
export function refuseConnect(request: IncomingMessage, socket: Socket): void {
  answerOnSocket(
    socket,
    new HeraldError('HERALD_ERR_NOT_FOUND', `No route CONNECT ${request.url ?? ''}: the publisher is not a proxy`),
  );
}

/** Write `error` as a whole HTTP answer on a socket Fastify does not handle, then close it. */
function answerOnSocket(socket: Socket, error: HeraldError): void {
  const body = JSON.stringify(error.toBody());
  if (!socket.writable) return void socket.destroy();
  // Ended, not destroyed at once, so the answer is flushed before the connection goes.
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
