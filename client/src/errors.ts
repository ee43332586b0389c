/**
 * The error registry: every error Herald reports over HTTP has a stable code, an HTTP status
 * and whether retrying the same request can help. Callers branch on `code`, never on message
 * text (Fastify's `lib/errors.js` is the model).
 */
export const ERRORS = {
  HERALD_ERR_BAD_JSON: { status: 400, retryable: false, message: 'The request body is not valid JSON' },
  HERALD_ERR_VALIDATION: { status: 400, retryable: false, message: 'The request does not match the schema' },
  HERALD_ERR_UNAUTHORIZED: {
    status: 401,
    retryable: false,
    message: 'A valid API key is required: send Authorization: Bearer <key>',
  },
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
  HERALD_ERR_HEADERS_TOO_LARGE: {
    status: 431,
    retryable: false,
    message: 'The request line and headers are too large',
  },
  HERALD_ERR_INTERNAL: { status: 500, retryable: true, message: 'Internal error' },
  HERALD_ERR_UNAVAILABLE: {
    status: 503,
    retryable: true,
    message: 'Redis is unavailable; retry shortly (a publish with the same notification id, so it is not sent twice)',
  },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** One problem with one field of a request: `path` is dotted (`to.email`, `notifications.3.body`). */
export interface Issue {
  path: string;
  message: string;
}

/**
 * Most issues an error answer lists; its message says how many there were. The first twenty say
 * what to fix first, and an answer stays small whatever was sent: a 1 MiB batch of bad items
 * once answered 17.8 MB of issues (issue 12).
 */
export const MAX_ISSUES = 20;

/**
 * Longest path or message of a listed issue, in characters: a path holds the client's own field
 * names, and nests as deep as a body allows (450000 levels fit in a batch).
 */
const MAX_ISSUE_TEXT = 200;

/** The first `max` issues (never more than MAX_ISSUES), each path and message clipped, as an answer lists them. */
export function listedIssues(issues: readonly Issue[], max = MAX_ISSUES): Issue[] {
  return issues
    .slice(0, Math.min(max, MAX_ISSUES))
    .map((issue) => ({ path: clip(issue.path), message: clip(issue.message) }));
}

/** Cut from the middle: a path's start says where, its end which field (`notifications.0.0…0.__proto__`). */
function clip(text: string): string {
  if (text.length <= MAX_ISSUE_TEXT) return text;
  const half = (MAX_ISSUE_TEXT - 1) / 2;
  return `${text.slice(0, Math.ceil(half))}…${text.slice(-Math.floor(half))}`;
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

  /**
   * The answer's body: at most `maxIssues` issues (never more than MAX_ISSUES), the message
   * saying how many there were when some are left out.
   */
  toBody(maxIssues = MAX_ISSUES): ErrorBody {
    if (!this.issues) return { error: { code: this.code, message: this.message } };
    const issues = listedIssues(this.issues, maxIssues);
    const message =
      issues.length < this.issues.length
        ? `${this.message} (${issues.length} of ${this.issues.length} issues listed; ` +
          'fix these and send again to see the rest)'
        : this.message;
    return { error: { code: this.code, message, issues } };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}
