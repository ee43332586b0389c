import { ERRORS, decodeEntry, isErrorCode, type Keys } from '@herald/shared';
import type { Redis } from 'ioredis';

/**
 * What every answer of the publisher must be, whatever was sent: a 2xx, or a 4xx whose body is
 * Herald's error shape `{error: {code, message, issues?}}` with a registered code of that
 * status. Throws a message naming the request otherwise (fast-check shows it with the
 * counterexample). A HEAD answer has no body to check.
 */
export function checkAnswer(request: string, status: number, body: string, { head = false } = {}): void {
  if (status >= 200 && status < 300) return;
  if (status < 400 || status >= 500) throw new Error(`${request} answered ${status}: ${body.slice(0, 500)}`);
  if (head) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`${request} answered ${status} with a body that is not JSON: ${body.slice(0, 500)}`);
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown; issues?: unknown } }).error;
  const problems: string[] = [];
  // A batch that accepted nothing also carries its per-item `results`.
  const extra = Object.keys(parsed as object).filter((k) => k !== 'error' && k !== 'results');
  if (extra.length) problems.push(`fields besides error: ${extra.join(', ')}`);
  if (!error || typeof error !== 'object') problems.push('no error object');
  else {
    const unknown = Object.keys(error).filter((k) => !['code', 'message', 'issues'].includes(k));
    if (unknown.length) problems.push(`error fields besides code, message, issues: ${unknown.join(', ')}`);
    if (!isErrorCode(error.code)) problems.push(`code ${String(error.code)} is not in the registry`);
    else if (ERRORS[error.code].status !== status)
      problems.push(`code ${error.code} is registered as ${ERRORS[error.code].status}`);
    if (typeof error.message !== 'string' || error.message === '') problems.push('no message');
    if (
      error.issues !== undefined &&
      !(
        Array.isArray(error.issues) &&
        error.issues.every((i) => typeof i?.path === 'string' && typeof i?.message === 'string')
      )
    ) {
      problems.push('issues are not [{path, message}]');
    }
  }
  if (problems.length)
    throw new Error(`${request} answered ${status} with ${problems.join(', ')}: ${body.slice(0, 500)}`);
}

/** Every entry of the stream decodes as a notification: nothing invalid was ever appended. */
export async function checkStream(redis: Redis, keys: Keys): Promise<number> {
  const entries = await redis.xrange(keys.stream, '-', '+');
  for (const [streamId, fields] of entries) {
    const decoded = decodeEntry(fields);
    if (!decoded.ok)
      throw new Error(
        `entry ${streamId} does not decode (${decoded.error.message}): ${JSON.stringify(fields).slice(0, 500)}`,
      );
  }
  return entries.length;
}
