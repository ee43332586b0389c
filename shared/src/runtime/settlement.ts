import { encodeDeadLetter } from '../layout/dead-letter.js';
import { redactContactData } from '../redact.js';
import type { EntrySettlement } from '../scripts/scripts.js';
import type { RuntimeContext } from './context.js';
import type { InFlight } from './in-flight.js';
import type { NotificationRef, Settlement, WorkItem } from './work.js';
import { WriteBatcher } from './write-batcher.js';

/**
 * Writes entries' outcomes: every write queued in the same tick goes as one settle script call
 * (see write-batcher.ts), which marks claims, moves statuses forward, dead-letters and
 * acknowledges, atomically.
 */
export class Settler {
  private readonly batcher: WriteBatcher<EntrySettlement>;

  constructor(
    private readonly ctx: RuntimeContext,
    private readonly inFlight: InFlight,
  ) {
    this.batcher = new WriteBatcher<EntrySettlement>(ctx.redis, ctx.logger, (parts) => this.settleParts(parts));
  }

  /** Write an entry's outcome (one atomic script), batched with what settles in the same tick, then free its slot. */
  settle(item: WorkItem, n: NotificationRef, settlement: Settlement): void {
    item.settling = true;
    this.write(item, n, settlement).then(
      () => this.inFlight.finish(item, settlement.action === 'ack'),
      () => this.inFlight.finish(item, false),
    );
  }

  /** Write an outcome without freeing the entry's slot (a late answer, marks at shutdown). */
  write(item: WorkItem, n: NotificationRef, s: Settlement): Promise<void> {
    const { channel } = this.ctx;
    const pass = item.pass;
    const entry: EntrySettlement = {
      id: n.id,
      userId: n.userId,
      type: n.type,
      ts: n.ts,
      streamId: item.streamId,
      token: item.token,
      status: s.status && { ...s.status, attempts: item.attempt, updatedAt: Date.now(), ...(pass ? { pass } : {}) },
      action: s.action,
      marks: s.marks ? s.marks.map(([target, mark]) => [target.key, mark] as const) : [],
      deadLetter: s.deadLetter
        ? encodeDeadLetter(
            {
              channel,
              streamId: item.streamId,
              id: n.id ?? '',
              reason: s.deadLetter.reason,
              attempts: item.attempt,
              error: redactContactData(s.deadLetter.error),
            },
            item.fields,
          )
        : [],
    };
    return this.batcher.enqueue({ part: entry, ...(s.extra ? { extra: s.extra } : {}) });
  }

  /** Stop retrying failed writes; what still fails is rejected (its entries stay pending). */
  close(): void {
    this.batcher.close();
  }

  /** Every write queued in the same tick as one settle script call. */
  private settleParts(entries: EntrySettlement[]): Promise<void> {
    const { channel, config, scripts, group, recordTtlS } = this.ctx;
    return scripts.settleBatch(channel, group, config.HERALD_CONSUMER, recordTtlS, entries);
  }
}
