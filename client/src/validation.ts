import type { z } from 'zod';
import { HeraldError, listedIssues, type Issue } from './errors.js';

/** zod issues as the API reports them: a dotted path (`to.email`, `notifications.3.body`) and a message. */
export function toIssues(error: z.ZodError, prefix: (string | number)[] = []): Issue[] {
  const join = (path: PropertyKey[]) => path.map(String).join('.') || '(body)';
  // zod reports unknown keys once, on their parent; name each unknown field by its own path.
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: join([...prefix, ...issue.path, key]), message: 'unknown field' }))
      : [{ path: join([...prefix, ...issue.path]), message: issue.message }],
  );
}

/**
 * Parse `value` with `schema` or throw HERALD_ERR_VALIDATION with every field that was wrong; its
 * message names the first ones, as many as an answer lists (see HeraldError.toBody).
 */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, what = 'The request'): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = toIssues(result.error);
  throw new HeraldError(
    'HERALD_ERR_VALIDATION',
    `${what} is invalid: ${listedIssues(issues)
      .map((i) => `${i.path}: ${i.message}`)
      .join('; ')}`,
    issues,
  );
}
