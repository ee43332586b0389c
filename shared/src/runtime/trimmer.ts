import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { streamGroups } from '../group-status.js';
import { deadLetterChannel } from '../layout/dead-letter.js';
import type { Keys } from '../layout/keys.js';
import type { Logger } from '../logger.js';
import { readStreamInfo } from '../redis-replies.js';
import { compareStreamIds, minStreamId } from '../stream-ids.js';

export interface TrimmerOptions {
  redis: Redis;
  keys: Keys;
  logger: Logger;
  /** HERALD_RETENTION_S: entries and dead letters older than this may go. */
  retentionS: number;
  /** HERALD_DLQ_MAXLEN: most dead letters kept. */
  deadLetterMaxLen: number;
  registry?: Registry;
}

export interface TrimResult {
  /** The MINID the stream was trimmed to. */
  minId: string;
  trimmed: number;
  deadLettersDropped: number;
}

/** Dead letters dropped per run at most (the rest go on the next run). */
const DEAD_LETTER_DROP_LIMIT = 10_000;

/**
 * Retention that never loses work. The stream is trimmed (`XTRIM MINID ~`) to the oldest of:
 * each group's oldest pending entry, each group's last-delivered id, and now minus the retention
 * window; so nothing a group has not delivered and acknowledged goes, and a stopped group keeps
 * everything after where it stopped. Trimming is idempotent: every replica may run it at once.
 *
 * The `MAXLEN ~` cap on XADD stays as the memory safety valve; when it evicts entries a group
 * had not read yet, the loss is logged as an error and shown in `herald_stream_unread_evicted`.
 * Dead letters older than the window, or past HERALD_DLQ_MAXLEN, are dropped here too, and their
 * per-channel counts kept right.
 */
export class Trimmer {
  private readonly trimmedTotal?: Counter;
  private readonly evicted?: Gauge;
  private timer?: NodeJS.Timeout;

  constructor(private readonly options: TrimmerOptions) {
    if (options.registry) {
      this.trimmedTotal = new Counter({
        name: 'herald_stream_trimmed_total',
        help: 'Stream entries removed by the trimmer',
        registers: [options.registry],
      });
      this.evicted = new Gauge({
        name: 'herald_stream_unread_evicted',
        help: 'Entries a group had not read that the MAXLEN cap evicted (should be 0)',
        labelNames: ['group'] as const,
        registers: [options.registry],
      });
    }
  }

  /** Run every `intervalMs` (with jitter, so replicas spread out). */
  start(intervalMs: number): void {
    const schedule = () => {
      this.timer = setTimeout(
        () =>
          void this.runOnce()
            .catch((err: unknown) => this.options.logger.warn({ err: (err as Error).message }, 'trimming failed'))
            .then(schedule),
        intervalMs * (0.75 + Math.random() / 2),
      );
      this.timer.unref();
    };
    schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  async runOnce(now = Date.now()): Promise<TrimResult> {
    const { redis, keys, retentionS, logger } = this.options;
    const groups = await streamGroups(redis, keys.stream);
    let minId = `${Math.max(0, now - retentionS * 1000)}-0`;
    for (const group of groups) {
      const name = String(group.name);
      minId = minStreamId(minId, String(group['last-delivered-id']));
      const [count, oldestPending] = (await redis.xpending(keys.stream, name)) as [number, string | null];
      if (count > 0 && oldestPending) minId = minStreamId(minId, oldestPending);
    }
    const trimmed = Number(await redis.xtrim(keys.stream, 'MINID', '~', minId));
    if (trimmed > 0) this.trimmedTotal?.inc(trimmed);
    if (groups.length) await this.checkEvictions(groups);
    const deadLettersDropped = await this.trimDeadLetters(now);
    if (trimmed || deadLettersDropped) logger.debug({ minId, trimmed, deadLettersDropped }, 'trimmed');
    return { minId, trimmed, deadLettersDropped };
  }

  /**
   * Our own trimming never passes a group's last-delivered id, so when a group's last-delivered
   * id lies before the oldest entry left, what lay between was removed by someone else: the
   * MAXLEN cap. How many it had not read: entries added, less entries it read, less those left
   * (all of which lie after it). Redis does not always know a group's entries-read (after SETID,
   * say); then nothing is claimed.
   */
  private async checkEvictions(groups: Record<string, unknown>[]): Promise<void> {
    const { redis, keys, logger } = this.options;
    const stream = (await readStreamInfo(redis, keys.stream)) ?? {};
    const first = (stream['first-entry'] as [string] | null)?.[0];
    const added = Number(stream['entries-added'] ?? 0);
    const length = Number(stream.length ?? 0);
    for (const group of groups) {
      const name = String(group.name);
      const last = String(group['last-delivered-id']);
      // A group at 0-0 has read nothing, even where Redis does not know its entries-read (a group
      // made with XGROUP CREATE ... 0, as workers make theirs, before its first read).
      const read = typeof group['entries-read'] === 'number' ? group['entries-read'] : last === '0-0' ? 0 : undefined;
      const lost =
        first && compareStreamIds(last, first) < 0 && typeof read === 'number' ? Math.max(0, added - read - length) : 0;
      this.evicted?.set({ group: name }, lost);
      if (lost > 0) {
        logger.error(
          { group: name, lastDeliveredId: last, oldestEntryId: first, lost },
          'entries this group had not read were evicted by the stream cap ' +
            '(HERALD_STREAM_MAXLEN): raise it, or add workers',
        );
      }
    }
  }

  private async trimDeadLetters(now: number): Promise<number> {
    const { redis, keys, retentionS, deadLetterMaxLen } = this.options;
    const oldestKept = `${Math.max(0, now - retentionS * 1000)}-0`;
    // One snapshot: the length and the letters it is measured against, read together, so a
    // replica dropping letters meanwhile cannot make this one drop the cap's worth again.
    const estimate = Math.max(0, Number(await redis.xlen(keys.deadLetters)) - deadLetterMaxLen);
    const count = Math.min(DEAD_LETTER_DROP_LIMIT, Math.max(estimate, 1000));
    const snapshot =
      (await redis.multi().xlen(keys.deadLetters).xrange(keys.deadLetters, '-', '+', 'COUNT', count).exec()) ?? [];
    const overCap = Math.max(0, Number(snapshot[0]?.[1] ?? 0) - deadLetterMaxLen);
    const batch = (snapshot[1]?.[1] ?? []) as [string, string[]][];
    const drop = batch.filter(([id], i) => i < overCap || compareStreamIds(id, oldestKept) < 0);
    if (drop.length === 0) return 0;
    // One XDEL each: a letter counts as dropped here only if this replica removed it.
    const deletes = redis.pipeline();
    for (const [id] of drop) deletes.xdel(keys.deadLetters, id);
    const results = (await deletes.exec()) ?? [];
    const perChannel = new Map<string, number>();
    drop.forEach(([, fields], i) => {
      if (Number(results[i]?.[1]) !== 1) return;
      const channel = deadLetterChannel(fields);
      perChannel.set(channel, (perChannel.get(channel) ?? 0) + 1);
    });
    const counts = redis.pipeline();
    for (const [channel, n] of perChannel) counts.hincrby(keys.deadLetterCounts, channel, -n);
    if (perChannel.size) await counts.exec();
    return [...perChannel.values()].reduce((a, b) => a + b, 0);
  }
}
