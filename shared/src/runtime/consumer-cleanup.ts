import { toRecord } from '../redis-replies.js';
import type { RuntimeContext } from './context.js';

/** How often idle consumers are looked for. */
export const CONSUMER_GC_INTERVAL_MS = 60_000;

/** Remove consumers idle longer than HERALD_CONSUMER_GC_S that have nothing pending. */
export async function collectIdleConsumers(ctx: RuntimeContext): Promise<void> {
  const { redis, keys, config, logger, group, consumerName } = ctx;
  try {
    const rows = (await redis.xinfo('CONSUMERS', keys.stream, group)) as unknown[][];
    const stale = rows
      .map((row) => toRecord(row))
      .filter(
        (c) =>
          c.name !== consumerName && Number(c.pending) === 0 && Number(c.idle) > config.HERALD_CONSUMER_GC_S * 1000,
      );
    if (stale.length === 0) return;
    await ctx.scripts.deleteIdleConsumers(
      group,
      stale.map((c) => String(c.name)),
    );
    logger.info({ consumers: stale.map((c) => c.name) }, 'removed idle consumers');
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'collecting idle consumers failed');
  }
}
