/**
 * The error registry: every error Herald reports over HTTP has a stable code, an HTTP status
 * and whether retrying the same request can help. Callers branch on `code`, never on message
 * text (Fastify's `lib/errors.js` is the model).
 */
export const ERRORS = {
  HERALD_ERR_BAD_JSON: { status: 400, retryable: false, message: 'The request body is not valid JSON' },
  HERALD_ERR_VALIDATION: { status: 400, retryable: false, message: 'The request does not match the schema' },
  HERALD_ERR_UNAUTHORIZED: { status: 401, retryable: false, message: 'A valid API key is required: send Authorization: Bearer <key>' },
  HERALD_ERR_FORBIDDEN: { status: 403, retryable: false, message: 'This API key may not use this route' },
  HERALD_ERR_NOT_FOUND: { status: 404, retryable: false, message: 'Not found' },
  HERALD_ERR_REQUEST_TIMEOUT: { status: 408, retryable: true, message: 'The request did not arrive in time' },
  HERALD_ERR_IDEMPOTENCY_MISMATCH: {
    status: 409,
    retryable: false,
    message: 'This notification id was already used for a different notification',
  },
  HERALD_ERR_REPLAY_TRIMMED: {
    status: 409,
    retryable: false,
    message: 'The replay would start at entries already trimmed away',
  },
  HERALD_ERR_PAYLOAD_TOO_LARGE: { status: 413, retryable: false, message: 'The request body is too large' },
  HERALD_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    retryable: false,
    message: 'The request body must be JSON: send Content-Type: application/json',
  },
  HERALD_ERR_RATE_LIMITED: { status: 429, retryable: true, message: 'Too many requests' },
  HERALD_ERR_HEADERS_TOO_LARGE: { status: 431, retryable: false, message: 'The request line and headers are too large' },
  HERALD_ERR_INTERNAL: { status: 500, retryable: true, message: 'Internal error' },
  HERALD_ERR_UNAVAILABLE: { status: 503, retryable: true, message: 'Redis is unavailable; retry shortly (a publish with the same notification id, so it is not sent twice)' },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** One problem with one field of a request: `path` is dotted (`to.email`, `notifications.3.body`). */
export interface Issue {
  path: string;
  message: string;
}

/** The body of every 4xx and 5xx answer. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; issues?: Issue[] };
}

/** An error with a registered code; the HTTP layer turns it into its status and body. */
export class HeraldError extends Error {
  override readonly name = 'HeraldError';
  readonly status: number;
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
    readonly issues?: Issue[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = ERRORS[code].status;
    this.retryable = ERRORS[code].retryable;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}) } };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}
