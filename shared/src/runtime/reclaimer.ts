import type { RuntimeContext } from './context.js';
import type { InFlight } from './in-flight.js';
import { retryDelayMs } from './retry-policy.js';
import type { WorkItem } from './work.js';

/** Pages of XPENDING the reclaimer reads per scan, and entries per page. */
const RECLAIM_PAGES = 5;
const RECLAIM_PAGE_SIZE = 200;

/** A pending entry whose wait is over: XCLAIM it with that idle time at least. */
interface Due {
  id: string;
  minIdle: number;
  attempt: number;
}

/**
 * Takes back entries that waited long enough: failed ones after their backoff, those of a
 * crashed replica once any lease it could hold has run out. XPENDING gives each entry's idle
 * time and delivery count; XCLAIM with that minimum idle time makes sure only one replica gets
 * each. The scan resumes where the last one stopped, so every pending entry is reached.
 */
export class Reclaimer {
  /** Where the next XPENDING scan starts, so pages past the first are reached too. */
  private cursor = '-';

  constructor(
    private readonly ctx: RuntimeContext,
    private readonly inFlight: InFlight,
    private readonly handle: (items: WorkItem[]) => void,
    private readonly running: () => boolean,
  ) {}

  async reclaim(): Promise<void> {
    if (!this.running() || this.inFlight.freeSlots === 0) return;
    const { logger } = this.ctx;
    try {
      const due = await this.findDue(this.inFlight.freeSlots);
      if (due.length === 0) return;
      const items = await this.take(due);
      if (items.length) {
        logger.debug({ entries: items.length }, 'took back pending entries');
        this.handle(items);
      }
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'taking back pending entries failed');
    }
  }

  /** Up to `wanted` pending entries whose backoff (or another replica's lease) has run out. */
  private async findDue(wanted: number): Promise<Due[]> {
    const { redis, keys, config, group, consumerName, leaseMs } = this.ctx;
    const minIdle = Math.floor(config.HERALD_RETRY_BASE_MS * 0.75);
    const now = Date.now();
    const due: Due[] = [];
    for (let page = 0; page < RECLAIM_PAGES && due.length < wanted; page++) {
      const rows = (await redis.xpending(keys.stream, group, 'IDLE', minIdle, this.cursor, '+', RECLAIM_PAGE_SIZE)) as [
        string,
        string,
        number,
        number,
      ][];
      for (const [id, owner, idle, deliveries] of rows) {
        this.cursor = `(${id}`;
        if (this.inFlight.has(id) || this.inFlight.heldBack(id, now)) continue;
        let required = retryDelayMs(deliveries, config.HERALD_RETRY_BASE_MS, config.HERALD_RETRY_MAX_MS, id);
        // Another replica's entry may be in the middle of a send there: wait out its lease.
        if (owner !== consumerName) required = Math.max(required, leaseMs);
        if (idle >= required) due.push({ id, minIdle: required, attempt: deliveries + 1 });
        if (due.length >= wanted) break;
      }
      if (rows.length < RECLAIM_PAGE_SIZE && due.length < wanted) {
        this.cursor = '-'; // reached the end: the next scan starts over
        break;
      }
    }
    return due;
  }

  /** XCLAIM the due entries in one pipeline and track the ones this replica got. */
  private async take(due: Due[]): Promise<WorkItem[]> {
    const { redis, keys, group, consumerName } = this.ctx;
    const pipeline = redis.pipeline();
    for (const { id, minIdle } of due) pipeline.xclaim(keys.stream, group, consumerName, minIdle, id);
    const replies = (await pipeline.exec()) ?? [];
    const items: WorkItem[] = [];
    due.forEach(({ attempt }, i) => {
      const [err, claimed] = replies[i] ?? [null, null];
      const entry = (claimed as [string, string[]][] | null)?.[0];
      // Nothing back: another replica took it first, or the entry was trimmed away.
      if (err || !entry || !this.running()) return;
      const item = this.inFlight.track(entry[0], entry[1] ?? [], attempt);
      if (item) items.push(item);
    });
    return items;
  }
}
