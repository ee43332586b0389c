/**
 * A `Retry-After` header (RFC 9110: delay-seconds or an HTTP-date) as milliseconds from `now`;
 * undefined when absent or unreadable. A date in the past gives 0.
 */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  const header: unknown = Array.isArray(value) ? value[0] : value;
  if (typeof header !== 'string' && typeof header !== 'number') return undefined;
  const text = String(header).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
