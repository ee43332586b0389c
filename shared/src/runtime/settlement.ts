import { claimField, encodeChannelStatus, statusField } from '../notification-record.js';
import { redactContactData } from '../redact.js';
import type { RuntimeContext } from './context.js';
import type { InFlight } from './in-flight.js';
import type { ScriptCommands } from './scripts.js';
import type { MarkKind, NotificationRef, Settlement, WorkItem } from './work.js';
import { WriteBatcher } from './write-batcher.js';

/** Most of an entry's original fields copied into its dead letter (Lua's unpack has a limit). */
const DEAD_LETTER_MAX_FIELDS = 2000;

/** The marks as settle-batch.lua stores them in a claim field. */
const MARK_LETTERS: Readonly<Record<MarkKind, string>> = Object.freeze({ delivered: 'd', failed: 'f', release: 'r' });

/** An entry's share of a settle script call: its record, and its arguments in settle-batch.lua's order. */
interface SettlePart {
  record: string;
  args: (string | number)[];
}

/**
 * Writes entries' outcomes: every write queued in the same tick goes as one settle script call
 * (see write-batcher.ts), which marks claims, moves statuses forward, dead-letters and
 * acknowledges, atomically.
 */
export class Settler {
  private readonly batcher: WriteBatcher<SettlePart>;

  constructor(
    private readonly ctx: RuntimeContext,
    private readonly inFlight: InFlight,
  ) {
    this.batcher = new WriteBatcher<SettlePart>(ctx.redis, ctx.logger, (parts) => this.settleParts(parts));
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
    const { keys, channel } = this.ctx;
    const pass = item.pass;
    const status = s.status
      ? encodeChannelStatus({ ...s.status, attempts: item.attempt, updatedAt: Date.now(), ...(pass ? { pass } : {}) })
      : '';
    const marks = s.marks ?? [];
    const letter = s.deadLetter
      ? [
          // The letter's own fields first, in the order dead-letter.ts reads them.
          'channel', channel,
          'streamId', item.streamId,
          'id', n.id ?? '',
          'reason', s.deadLetter.reason,
          'attempts', String(item.attempt),
          'error', redactContactData(s.deadLetter.error),
          ...item.fields.slice(0, DEAD_LETTER_MAX_FIELDS),
        ]
      : [];
    const known = n.id !== undefined && n.userId !== undefined;
    return this.batcher.enqueue({
      part: {
        record: keys.notification(n.id ?? ''),
        args: [
          known ? status : '', item.token,
          known ? n.userId! : '', n.type ?? '', String(n.ts ?? 0),
          item.streamId, s.action,
          known ? marks.length : 0, ...(known ? marks.flatMap(([target, mark]) => [claimField(target.key), MARK_LETTERS[mark]]) : []),
          letter.length, ...letter,
        ],
      },
      ...(s.extra ? { extra: s.extra } : {}),
    });
  }

  /** Stop retrying failed writes; what still fails is rejected (its entries stay pending). */
  close(): void {
    this.batcher.close();
  }

  /** Every write queued in the same tick as one settle script call (see settle-batch.lua). */
  private settleParts(parts: SettlePart[]): Promise<unknown> {
    const { keys, channel, config, redis } = this.ctx;
    return (redis as unknown as ScriptCommands).heraldSettle(
      3 + parts.length,
      keys.stream, keys.deadLetters, keys.deadLetterCounts, ...parts.map((p) => p.record),
      this.ctx.group, config.HERALD_CONSUMER, this.ctx.recordTtlS, statusField(channel),
      ...parts.flatMap((p) => p.args),
    );
  }
}
