import type { ClaimResult as StoredClaimResult, TargetClaim } from '../scripts/scripts.js';
import type { RuntimeContext } from './context.js';
import type { ClaimResult, Deliverable } from './work.js';

/** What the claim script answers per target, and the runtime's names for it. */
const CLAIM_RESULTS: Readonly<Record<StoredClaimResult, ClaimResult>> = Object.freeze({
  ok: 'claimed',
  done: 'delivered',
  busy: 'held',
});

/** Claim every target of every entry in one round trip; an entry whose claim failed maps to its error. */
export async function claimDeliverables(ctx: RuntimeContext, batch: Deliverable[]): Promise<(ClaimResult[] | Error)[]> {
  let replies: [number, ...StoredClaimResult[]][];
  try {
    replies = await claimTargets(
      ctx,
      batch.map(({ item, n, targets }) => ({
        id: n.id,
        token: item.token,
        pass: item.pass,
        targets: targets.map((t) => t.key),
      })),
    );
  } catch (err) {
    return batch.map(() => err as Error);
  }
  return batch.map(({ item }, i) => {
    // The claim answers the pass in effect first: a redrive may have started a later one.
    const reply = replies[i]!;
    item.pass = Number(reply[0]);
    const claims: ClaimResult[] = [];
    for (let t = 1; t < reply.length; t++) claims.push(CLAIM_RESULTS[reply[t] as StoredClaimResult]);
    return claims;
  });
}

/** One claim script call for many entries: per entry, the pass in effect, then a result per target. */
export function claimTargets(
  ctx: RuntimeContext,
  claims: readonly TargetClaim[],
): Promise<[number, ...StoredClaimResult[]][]> {
  return ctx.scripts.claimBatch(ctx.channel, ctx.leaseMs, ctx.recordTtlS, claims);
}
