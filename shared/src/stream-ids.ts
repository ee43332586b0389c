/** Stream ids (`<ms>-<seq>`): parsing, ordering, and the id just before another. */

const ID = /^(\d{1,20})-(\d{1,20})$/;

export function isStreamId(value: string): boolean {
  return ID.test(value);
}

function parts(id: string): [bigint, bigint] {
  const m = ID.exec(id);
  if (!m) throw new RangeError(`not a stream id: ${id}`);
  return [BigInt(m[1]!), BigInt(m[2]!)];
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = parts(a);
  const [bm, bs] = parts(b);
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

export function minStreamId(a: string, b: string): string {
  return compareStreamIds(a, b) <= 0 ? a : b;
}

/** The greatest id before `id` (`0-0` has none, and gives itself). */
export function previousStreamId(id: string): string {
  const [ms, seq] = parts(id);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-18446744073709551615`;
  return '0-0';
}

/** Milliseconds since the epoch an id was made at. */
export function streamIdTime(id: string): number {
  return Number(parts(id)[0]);
}
