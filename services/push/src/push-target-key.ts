import { createHash } from 'node:crypto';

/**
 * The delivery-claim key of one push subscription: `push:` and the first 16 characters of
 * base64url(sha256(endpoint)), so each subscription of a user is claimed and marked on its own
 * without the endpoint (a capability URL) appearing in key names.
 */
export function pushTargetKey(endpoint: string): string {
  return `push:${createHash('sha256').update(endpoint).digest('base64url').slice(0, 16)}`;
}
