import { claimField } from '../notification-record.js';
import type { RuntimeContext } from './context.js';
import type { ScriptCommands } from './scripts.js';
import type { ClaimResult, Deliverable } from './work.js';

/** A claim of an entry's targets, leased to its attempt's token. */
export interface LeaseClaim {
  record: string;
  token: string;
  pass: number;
  fields: string[];
}

/** What claim-batch.lua answers per target, and the runtime's names for it. */
type StoredClaimResult = 'ok' | 'done' | 'busy';
const CLAIM_RESULTS: Readonly<Record<StoredClaimResult, ClaimResult>> = Object.freeze({ ok: 'claimed', done: 'delivered', busy: 'held' });

/** Per entry: the pass in effect, then one result per target. */
type ClaimReply = [number, ...StoredClaimResult[]];

/** Claim every target of every entry in one round trip; an entry whose claim failed maps to its error. */
export async function claimDeliverables(ctx: RuntimeContext, batch: Deliverable[]): Promise<(ClaimResult[] | Error)[]> {
  const { keys } = ctx;
  let replies: ClaimReply[];
  try {
    replies = await claimTargets(
      ctx,
      batch.map(({ item, n, targets }) => ({ record: keys.notification(n.id), token: item.token, pass: item.pass, fields: targets.map((t) => claimField(t.key)) })),
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

/**
 * One claim script call for many entries (see claim-batch.lua), on the connection itself:
 * ioredis would send it in a pipeline as EVAL with the script's whole text every time.
 */
export async function claimTargets(ctx: RuntimeContext, claims: LeaseClaim[]): Promise<ClaimReply[]> {
  return (await (ctx.redis as unknown as ScriptCommands).heraldClaim(
    claims.length,
    ...claims.map((c) => c.record),
    ctx.leaseMs, ctx.recordTtlS, `p:${ctx.channel}`,
    ...claims.flatMap((c) => [c.token, c.pass, c.fields.length, ...c.fields]),
  )) as ClaimReply[];
}
