import { compareStreamIds } from '../stream-ids.js';

/**
 * Delivery passes. Pass 0 is the first. A replay with `resend` starts pass P+1 for one channel
 * from a stream id on: entries at or after it belong to the new pass, and delivery claims of
 * earlier passes no longer hold for them, so each is delivered once more. A redrive starts a new
 * pass for one notification on one channel (the record's `p:<channel>` field), which the claim
 * script applies. Kept in `keys.passes(channel)`: pass number → first stream id, and the
 * channel's pass counter under PASS_COUNTER_FIELD, which replays and redrives both draw from.
 */
export const PASS_COUNTER_FIELD = 'seq';

export type Passes = { pass: number; from: string }[];

export function parsePasses(hash: Record<string, string> | null | undefined): Passes {
  return Object.entries(hash ?? {})
    .filter(([pass, from]) => /^\d+$/.test(pass) && /^\d+-\d+$/.test(from))
    .map(([pass, from]) => ({ pass: Number(pass), from }))
    .sort((a, b) => b.pass - a.pass);
}

/** The pass an entry belongs to on a channel: the latest one that starts at or before it. */
export function passOf(streamId: string, passes: Passes): number {
  for (const { pass, from } of passes) if (compareStreamIds(streamId, from) >= 0) return pass;
  return 0;
}

export function latestPass(passes: Passes): number {
  return passes[0]?.pass ?? 0;
}
