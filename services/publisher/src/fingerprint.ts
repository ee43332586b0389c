import { createHash } from 'node:crypto';

/**
 * A stable digest of a validated notification: keys sorted at every depth, so key order and
 * whitespace in the request do not matter. Two requests with the same id and the same
 * fingerprint are the same notification.
 */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64url').slice(0, 22);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i]);
    return out + ']';
  }
  if (value !== null && typeof value === 'object') {
    // Plain loops: this runs for every notification published, and is most of its CPU cost.
    const object = value as Record<string, unknown>;
    const names = Object.keys(object).sort();
    let out = '{';
    for (const name of names) {
      const v = object[name];
      if (v === undefined) continue;
      out += (out.length > 1 ? ',' : '') + JSON.stringify(name) + ':' + canonicalJson(v);
    }
    return out + '}';
  }
  return JSON.stringify(value) ?? 'null';
}
