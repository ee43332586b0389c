import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis } from 'ioredis';
import { abortable } from './abortable.js';
import { DeliveryError, type ChannelDriver, type SendResult, type Target, type UserRecord } from './channel-driver.js';
import { filterEntry } from './entry-filter.js';
import { GROUPS, type Channel, type Notification } from './glossary.js';
import type { Keys } from './keys.js';
import type { Logger } from './logger.js';
import { claimField, encodeChannelStatus, statusField, type ChannelStatus } from './notification-record.js';
import type { StoredPushSubscription } from './push-subscription.js';
import { redactContactData } from './redact.js';
import { reconnectDelay } from './redis.js';
import { retryDelayMs } from './retry-policy.js';
import { decodeEntry } from './stream-codec.js';
import type { Preferences } from './user.js';
import type { WorkerConfig } from './worker-config.js';
import type { WorkerMetrics } from './worker-metrics.js';
import { WriteBatcher } from './write-batcher.js';

const lua = (name: string) => readFileSync(new URL(`./lua/${name}`, import.meta.url), 'utf8');
const CLAIM_SCRIPT = lua('claim-1.lua');
const SETTLE_SCRIPT = lua('settle-1.lua');
const DELETE_IDLE_CONSUMER_SCRIPT = lua('delete-idle-consumer-1.lua');

/** Longest a blocking read waits before the loop looks around again (the issue caps it at 5 s). */
const BLOCK_MS = 2000;
/** How often idle consumers are looked for. */
const CONSUMER_GC_INTERVAL_MS = 60_000;
/** Approximate cap on the dead-letter stream (XADD MAXLEN ~). */
export const DEAD_LETTER_MAXLEN = 100_000;
/** Pages of XPENDING the reclaimer reads per scan, and entries per page. */
const RECLAIM_PAGES = 5;
const RECLAIM_PAGE_SIZE = 200;

export type DeadLetterReason = 'malformed' | 'permanent' | 'gone' | 'max_attempts';

export interface ConsumerOptions {
  channel: Channel;
  driver: ChannelDriver;
  config: WorkerConfig;
  /** Commands (non-blocking). */
  redis: Redis;
  /** The blocking XREADGROUP only: a blocked connection can carry nothing else. */
  blockingRedis: Redis;
  keys: Keys;
  logger: Logger;
  metrics: WorkerMetrics;
}

/** An entry this replica is handling: read (attempt 1) or taken back from the pending list. */
interface WorkItem {
  streamId: string;
  fields: string[];
  attempt: number;
  abort: AbortController;
}

type ClaimResult = 'ok' | 'done' | 'failed' | 'busy';

type SendOutcome = { target: Target; result: SendResult } | { target: Target; error: DeliveryError };

type PipelineWithScripts = ChainableCommander & {
  heraldClaim(record: string, ...args: (string | number)[]): ChainableCommander;
  heraldSettle(record: string, ...args: (string | number)[]): ChainableCommander;
  heraldDeleteIdleConsumer(stream: string, group: string, consumer: string): ChainableCommander;
};

/**
 * The consumer runtime every channel worker runs: reads its group's entries, filters them,
 * claims, sends through the channel's driver, retries, dead-letters, and keeps each entry's
 * status. One instance is one consumer (one replica) of the channel's group.
 */
export class Consumer {
  readonly group: string;
  readonly consumerName: string;
  private readonly inFlight = new Map<string, WorkItem>();
  /** Retry-After answers: an entry is not taken back before its time. */
  private readonly notBefore = new Map<string, number>();
  private readonly batcher: WriteBatcher;
  private readonly leaseMs: number;
  private readonly recordTtlS: number;
  private readonly types: Set<string> | undefined;
  private slotWaiters: (() => void)[] = [];
  private running = false;
  private readLoopDone: Promise<void> = Promise.resolve();
  private reclaimTimer?: NodeJS.Timeout;
  private gcTimer?: NodeJS.Timeout;
  private reclaiming = false;
  private closing?: Promise<void>;

  constructor(private readonly options: ConsumerOptions) {
    const { config, channel, redis } = options;
    this.group = GROUPS[channel];
    this.consumerName = config.HERALD_CONSUMER;
    this.batcher = new WriteBatcher(redis, options.keys.stream, this.group, options.logger);
    // Longer than any send can take, so while one replica is sending no other one does.
    this.leaseMs = config.HERALD_SEND_TIMEOUT_MS + Math.max(2000, config.HERALD_SEND_TIMEOUT_MS / 2);
    this.recordTtlS = config.HERALD_RETENTION_S;
    this.types = config.HERALD_TYPES.includes('*') ? undefined : new Set(config.HERALD_TYPES);
    redis.defineCommand('heraldClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    redis.defineCommand('heraldSettle', { numberOfKeys: 1, lua: SETTLE_SCRIPT });
    redis.defineCommand('heraldDeleteIdleConsumer', { numberOfKeys: 1, lua: DELETE_IDLE_CONSUMER_SCRIPT });
  }

  /** Entries being handled right now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Create the group if needed and start reading, taking back and collecting idle consumers. */
  async start(): Promise<void> {
    await this.ensureGroup();
    this.running = true;
    this.readLoopDone = this.readLoop();
    const scanMs = Math.min(1000, Math.max(50, Math.floor(this.options.config.HERALD_RETRY_BASE_MS / 2)));
    this.reclaimTimer = setInterval(() => void this.reclaim(), scanMs);
    this.gcTimer = setInterval(() => void this.collectIdleConsumers(), CONSUMER_GC_INTERVAL_MS);
    void this.collectIdleConsumers();
  }

  /**
   * Stop reading, let deliveries in flight finish within HERALD_SHUTDOWN_MS (their outcomes are
   * written and acknowledged), then abort the rest: those stay pending for another replica.
   * Safe to call twice: it returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.running = false;
    clearInterval(this.reclaimTimer);
    clearInterval(this.gcTimer);
    // Interrupts a blocked XREADGROUP; anything it had been handed stays pending for others.
    this.options.blockingRedis.disconnect();
    this.wakeSlotWaiters();
    await this.readLoopDone;
    const drained = await this.waitForIdle(this.options.config.HERALD_SHUTDOWN_MS);
    if (!drained) {
      this.options.logger.warn({ inFlight: this.inFlight.size }, 'shutdown time is up: aborting deliveries in flight');
      for (const item of this.inFlight.values()) item.abort.abort(new Error('worker shutting down'));
      await this.waitForIdle(2000);
    }
    this.batcher.close();
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.options.redis.xgroup('CREATE', this.options.keys.stream, this.group, '0', 'MKSTREAM');
      this.options.logger.info({ group: this.group }, 'created consumer group from 0');
    } catch (err) {
      if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
    }
  }

  private get freeSlots(): number {
    return Math.max(0, this.options.config.HERALD_CONCURRENCY - this.inFlight.size);
  }

  private async readLoop(): Promise<void> {
    const { blockingRedis, keys, logger, config } = this.options;
    let failures = 0;
    while (this.running) {
      // Never COUNT 0, which Redis reads as "no limit": wait for a slot instead.
      if (this.freeSlots === 0) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
      if (!this.running) break;
      const count = Math.min(this.freeSlots, config.HERALD_BATCH);
      if (count === 0) continue;
      try {
        const reply = (await blockingRedis.xreadgroup(
          'GROUP', this.group, this.consumerName,
          'COUNT', count,
          'BLOCK', BLOCK_MS,
          'STREAMS', keys.stream, '>',
        )) as [string, [string, string[]][]][] | null;
        failures = 0;
        const entries = reply?.[0]?.[1];
        if (entries?.length) this.handle(entries.map(([streamId, fields]) => this.track(streamId, fields, 1)));
      } catch (err) {
        if (!this.running) break;
        const message = String((err as Error).message);
        const delay = reconnectDelay(++failures);
        logger.warn({ err: message, retryInMs: delay }, 'reading the stream failed');
        await new Promise((resolve) => setTimeout(resolve, delay));
        // The group (or the stream) was removed under us, e.g. by an operator: make it again.
        if (message.startsWith('NOGROUP')) await this.ensureGroup().catch(() => undefined);
      }
    }
  }

  private track(streamId: string, fields: string[], attempt: number): WorkItem {
    const item: WorkItem = { streamId, fields, attempt, abort: new AbortController() };
    this.inFlight.set(streamId, item);
    this.options.metrics.inFlight.labels(this.options.channel).set(this.inFlight.size);
    return item;
  }

  private finish(item: WorkItem, acknowledged: boolean): void {
    this.inFlight.delete(item.streamId);
    if (acknowledged) this.notBefore.delete(item.streamId);
    this.options.metrics.inFlight.labels(this.options.channel).set(this.inFlight.size);
    this.wakeSlotWaiters();
  }

  private wakeSlotWaiters(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) wake();
  }

  private async waitForIdle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(100, deadline - Date.now()));
        this.slotWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  /** Handle a batch: decode, look up users in one round trip, filter, claim in one, deliver. */
  private handle(items: WorkItem[]): void {
    this.handleBatch(items).catch((err: unknown) => {
      // A Redis failure in the look-ups or claims: the entries stay pending and come back later.
      this.options.logger.warn({ err: (err as Error).message, entries: items.length }, 'batch left pending');
      for (const item of items) if (this.inFlight.get(item.streamId) === item) this.finish(item, false);
    });
  }

  private async handleBatch(items: WorkItem[]): Promise<void> {
    const { config, channel, metrics } = this.options;
    const decoded: { item: WorkItem; n: Notification }[] = [];
    for (const item of items) {
      const result = decodeEntry(item.fields);
      if (!result.ok) {
        const { error } = result;
        this.options.logger.warn({ streamId: item.streamId, field: error.field }, 'malformed entry: dead-lettered');
        this.deadLetter(item, { id: error.id, userId: error.userId }, 'malformed', error.message);
      } else if (item.attempt > config.HERALD_MAX_ATTEMPTS) {
        // Taken back more often than allowed without settling (a crash loop, say).
        this.deadLetter(item, result.notification, 'max_attempts', 'attempts exhausted before a send could settle');
      } else {
        decoded.push({ item, n: result.notification });
      }
    }
    if (decoded.length === 0) return;

    const users = await this.lookUpUsers(decoded.map((d) => d.n.userId));
    const deliverable: { item: WorkItem; n: Notification; targets: Target[] }[] = [];
    for (const { item, n } of decoded) {
      const verdict = filterEntry(n, users.get(n.userId)!, {
        channel,
        types: this.types,
        driver: this.options.driver,
        now: Date.now(),
      });
      if ('skip' in verdict) {
        metrics.skipped.labels(channel, verdict.skip).inc();
        this.settle(item, n, { state: 'skipped', reason: verdict.skip }, [], true);
      } else {
        deliverable.push({ item, n, targets: verdict.targets });
      }
    }
    if (deliverable.length === 0) return;

    const deliverLogged = (d: (typeof deliverable)[number], claims: ClaimResult[]) =>
      this.deliver(d.item, d.n, d.targets, claims).catch((err: unknown) => {
        this.options.logger.error({ err, streamId: d.item.streamId }, 'delivery failed unexpectedly; entry left pending');
        this.finish(d.item, false);
      });
    const { driver } = this.options;
    if (driver.throttle) {
      // Rate-limited: each entry waits for its turn, then claims on its own. A claim taken before
      // a long wait could run out while waiting; one taken after it cannot.
      for (const d of deliverable) {
        void (async () => {
          for (let i = 0; i < d.targets.length; i++) await driver.throttle!(d.item.abort.signal);
          const [claims] = await this.claim([d]);
          await deliverLogged(d, claims!);
        })().catch((err: unknown) => {
          this.options.logger.warn({ err: (err as Error).message, streamId: d.item.streamId }, 'entry left pending');
          this.finish(d.item, false);
        });
      }
      return;
    }
    const claims = await this.claim(deliverable);
    deliverable.forEach((d, i) => void deliverLogged(d, claims[i]!));
  }

  private async lookUpUsers(userIds: string[]): Promise<Map<string, UserRecord>> {
    const { redis, keys, driver } = this.options;
    const unique = [...new Set(userIds)];
    const pipeline = redis.pipeline();
    for (const userId of unique) {
      pipeline.hgetall(keys.user(userId));
      if (driver.needsPushSubscriptions) pipeline.hgetall(keys.pushSubscriptions(userId));
    }
    const replies = (await pipeline.exec()) ?? [];
    const users = new Map<string, UserRecord>();
    const stride = driver.needsPushSubscriptions ? 2 : 1;
    unique.forEach((userId, i) => {
      const [userErr, userHash] = replies[i * stride] ?? [new Error('no reply'), null];
      if (userErr) throw userErr;
      const hash = (userHash ?? {}) as Record<string, string>;
      const record: UserRecord = { pushSubscriptions: [] };
      if (hash.email) record.email = hash.email;
      if (hash.phone) record.phone = hash.phone;
      if (hash.locale) record.locale = hash.locale;
      if (hash.prefs) record.preferences = safeJson<Preferences>(hash.prefs);
      if (driver.needsPushSubscriptions) {
        const [subsErr, subs] = replies[i * stride + 1] ?? [new Error('no reply'), null];
        if (subsErr) throw subsErr;
        for (const text of Object.values((subs ?? {}) as Record<string, string>)) {
          const sub = safeJson<StoredPushSubscription>(text);
          if (sub?.endpoint && sub.keys) record.pushSubscriptions.push(sub);
        }
      }
      users.set(userId, record);
    });
    return users;
  }

  private async claim(batch: { item: WorkItem; n: Notification; targets: Target[] }[]): Promise<ClaimResult[][]> {
    const { redis, keys } = this.options;
    const pipeline = redis.pipeline() as PipelineWithScripts;
    const now = Date.now();
    for (const { n, targets } of batch) {
      pipeline.heraldClaim(
        keys.notification(n.id),
        this.consumerName, now, this.leaseMs, this.passOf(n), this.recordTtlS,
        ...targets.map((t) => claimField(t.key)),
      );
    }
    const replies = (await pipeline.exec()) ?? [];
    return batch.map((_, i) => {
      const [err, result] = replies[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      return result as ClaimResult[];
    });
  }

  /** The delivery pass an entry belongs to (a later issue adds replays that start new ones). */
  private passOf(_n: Notification): number {
    return 0;
  }

  private async deliver(item: WorkItem, n: Notification, targets: Target[], claims: ClaimResult[]): Promise<void> {
    const { config, channel, metrics } = this.options;
    const toSend = targets.filter((_, i) => claims[i] === 'ok');
    const alreadyDone = claims.filter((c) => c === 'done').length;
    const busy = claims.filter((c) => c === 'busy').length;

    if (toSend.length === 0) {
      if (busy > 0) {
        // Another replica is sending right now; it will settle and acknowledge the entry.
        this.finish(item, false);
      } else {
        // Every target was settled before (a redelivery, a replay, a duplicate entry).
        metrics.deliveries.labels(channel, 'duplicate').inc();
        await this.batcher.enqueue(undefined, item.streamId);
        this.finish(item, true);
      }
      return;
    }
    // Checked again at the last moment: an OTP must never go out late.
    if (n.expiresAt !== undefined && n.expiresAt <= Date.now()) {
      metrics.skipped.labels(channel, 'expired').inc();
      this.settle(item, n, { state: 'skipped', reason: 'expired' }, toSend.map((t) => [t, 'r'] as const), true);
      return;
    }

    const outcomes = await Promise.all(toSend.map((target) => this.sendOne(item, n, target)));
    const sent = outcomes.filter((o): o is { target: Target; result: SendResult } => 'result' in o);
    const failed = outcomes.filter((o): o is { target: Target; error: DeliveryError } => 'error' in o);
    const transient = failed.filter((o) => o.error.kind === 'transient');
    const outOfAttempts = item.attempt >= config.HERALD_MAX_ATTEMPTS;
    const gone = failed.filter((o) => o.error.kind === 'gone');
    const removeGone = (pipeline: ChainableCommander) => {
      for (const { target } of gone) pipeline.hdel(this.options.keys.pushSubscriptions(n.userId), target.address);
    };

    if ((transient.length > 0 && !outOfAttempts) || busy > 0) {
      const marks = [
        ...sent.map((o) => [o.target, 'd'] as const),
        ...failed.map((o) => [o.target, o.error.kind === 'transient' ? 'r' : 'f'] as const),
      ];
      const retryAfterMs = Math.max(0, ...transient.map((o) => o.error.retryAfterMs ?? 0));
      if (retryAfterMs > 0) this.notBefore.set(item.streamId, Date.now() + retryAfterMs);
      const error = transient[0]?.error.message;
      metrics.deliveries.labels(channel, 'retried').inc();
      this.settle(item, n, { state: 'retrying', ...(error ? { error } : {}) }, marks, false, removeGone);
      return;
    }

    const finalFailures = failed; // transient ones too, when out of attempts
    const marks = [...sent.map((o) => [o.target, 'd'] as const), ...finalFailures.map((o) => [o.target, 'f'] as const)];
    if (sent.length > 0 || alreadyDone > 0) {
      metrics.deliveries.labels(channel, 'delivered').inc();
      const providerId = sent.find((o) => o.result.providerId)?.result.providerId;
      this.settle(item, n, { state: 'delivered', ...(providerId ? { providerId } : {}) }, marks, true, removeGone);
      return;
    }
    const reason: DeadLetterReason =
      transient.length > 0 ? 'max_attempts' : failed.every((o) => o.error.kind === 'gone') ? 'gone' : 'permanent';
    const error = (failed.find((o) => o.error.kind !== 'gone') ?? failed[0])!.error.message;
    this.deadLetter(item, n, reason, error, marks, removeGone);
  }

  private async sendOne(item: WorkItem, n: Notification, target: Target): Promise<SendOutcome> {
    const { driver, config, metrics, channel } = this.options;
    const signal = AbortSignal.any([item.abort.signal, AbortSignal.timeout(config.HERALD_SEND_TIMEOUT_MS)]);
    const started = performance.now();
    try {
      // Raced against the signal too, in case a transport does not honour it.
      const result = await abortable(() => driver.send(n, target, signal), signal, `${this.options.channel} send`);
      metrics.sendDuration.labels(channel, 'success').observe((performance.now() - started) / 1000);
      return { target, result };
    } catch (err) {
      metrics.sendDuration.labels(channel, 'failure').observe((performance.now() - started) / 1000);
      const error = driver.classify(err);
      const safe = new DeliveryError(error.kind, redactContactData(error.message), error.retryAfterMs);
      this.options.logger.warn(
        { streamId: item.streamId, id: n.id, kind: safe.kind, error: safe.message, attempt: item.attempt },
        'send failed',
      );
      return { target, error: safe };
    }
  }

  /**
   * Write an entry's status (forward only) and claim marks, and acknowledge it when `ack`;
   * all batched with whatever else settles in the same tick.
   */
  private settle(
    item: WorkItem,
    n: Pick<Notification, 'id' | 'userId' | 'type' | 'ts'>,
    status: Omit<ChannelStatus, 'attempts' | 'updatedAt'>,
    marks: readonly (readonly [Target, 'd' | 'f' | 'r'])[],
    ack: boolean,
    extra?: (pipeline: ChainableCommander) => void,
  ): void {
    const full: ChannelStatus = { ...status, attempts: item.attempt, updatedAt: Date.now() };
    const pass = this.passOf(n as Notification);
    if (pass) full.pass = pass;
    const write = (pipeline: ChainableCommander) => {
      (pipeline as PipelineWithScripts).heraldSettle(
        this.options.keys.notification(n.id),
        statusField(this.options.channel),
        encodeChannelStatus(full),
        this.consumerName,
        this.recordTtlS,
        n.userId, n.type, item.streamId, String(n.ts),
        ...marks.flatMap(([target, mark]) => [claimField(target.key), mark]),
      );
      extra?.(pipeline);
    };
    this.batcher.enqueue(write, ack ? item.streamId : undefined).then(
      () => this.finish(item, ack),
      () => this.finish(item, false),
    );
  }

  /** Copy an entry to the dead-letter stream with why, mark it dead, and acknowledge it. */
  private deadLetter(
    item: WorkItem,
    n: Partial<Pick<Notification, 'id' | 'userId' | 'type' | 'ts'>>,
    reason: DeadLetterReason,
    error: string,
    marks: readonly (readonly [Target, 'd' | 'f' | 'r'])[] = [],
    extra?: (pipeline: ChainableCommander) => void,
  ): void {
    const { keys, channel, metrics } = this.options;
    metrics.deliveries.labels(channel, 'dead').inc();
    const safeError = redactContactData(error);
    const letter = (pipeline: ChainableCommander) => {
      pipeline.xadd(
        keys.deadLetters, 'MAXLEN', '~', DEAD_LETTER_MAXLEN, '*',
        'channel', channel,
        'streamId', item.streamId,
        'id', n.id ?? '',
        'reason', reason,
        'attempts', String(item.attempt),
        'error', safeError,
        ...item.fields,
      );
      extra?.(pipeline);
    };
    if (n.id && n.userId) {
      const known = { id: n.id, userId: n.userId, type: n.type ?? '', ts: n.ts ?? 0 };
      this.settle(item, known, { state: 'dead', reason, error: safeError }, marks, true, letter);
    } else {
      this.batcher.enqueue(letter, item.streamId).then(
        () => this.finish(item, true),
        () => this.finish(item, false),
      );
    }
  }

  /**
   * Take back entries that waited long enough: failed ones after their backoff, those of a
   * crashed replica once any lease it could hold has run out. XPENDING gives each entry's idle
   * time and delivery count; XCLAIM with that minimum idle time makes sure only one replica
   * gets each.
   */
  private async reclaim(): Promise<void> {
    if (!this.running || this.reclaiming || this.freeSlots === 0) return;
    this.reclaiming = true;
    const { redis, keys, config, logger } = this.options;
    try {
      const minIdle = Math.floor(config.HERALD_RETRY_BASE_MS * 0.75);
      const now = Date.now();
      const due: { id: string; minIdle: number; attempt: number }[] = [];
      let start = '-';
      for (let page = 0; page < RECLAIM_PAGES && due.length < this.freeSlots; page++) {
        const rows = (await redis.xpending(keys.stream, this.group, 'IDLE', minIdle, start, '+', RECLAIM_PAGE_SIZE)) as [
          string, string, number, number,
        ][];
        for (const [id, owner, idle, deliveries] of rows) {
          if (this.inFlight.has(id) || (this.notBefore.get(id) ?? 0) > now) continue;
          let required = retryDelayMs(deliveries, config.HERALD_RETRY_BASE_MS, config.HERALD_RETRY_MAX_MS, id);
          // Another replica's entry may be in the middle of a send there: wait out its lease.
          if (owner !== this.consumerName) required = Math.max(required, this.leaseMs);
          if (idle >= required) due.push({ id, minIdle: required, attempt: deliveries + 1 });
          if (due.length >= this.freeSlots) break;
        }
        if (rows.length < RECLAIM_PAGE_SIZE) break;
        start = `(${rows[rows.length - 1]![0]}`;
      }
      if (due.length === 0) return;
      const pipeline = redis.pipeline();
      for (const { id, minIdle: idle } of due) pipeline.xclaim(keys.stream, this.group, this.consumerName, idle, id);
      const replies = (await pipeline.exec()) ?? [];
      const items: WorkItem[] = [];
      due.forEach(({ id, attempt }, i) => {
        const [err, claimed] = replies[i] ?? [null, null];
        const entry = (claimed as [string, string[]][] | null)?.[0];
        // Nothing back: another replica took it first, or the entry was trimmed away.
        if (err || !entry || !this.running || this.inFlight.has(id)) return;
        items.push(this.track(entry[0], entry[1] ?? [], attempt));
      });
      if (items.length) {
        logger.debug({ entries: items.length }, 'took back pending entries');
        this.handle(items);
      }
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'taking back pending entries failed');
    } finally {
      this.reclaiming = false;
    }
  }

  /** Remove consumers idle longer than HERALD_CONSUMER_GC_S that have nothing pending. */
  private async collectIdleConsumers(): Promise<void> {
    const { redis, keys, config, logger } = this.options;
    try {
      const rows = (await redis.xinfo('CONSUMERS', keys.stream, this.group)) as unknown[][];
      const stale = rows
        .map((row) => fieldsOf(row))
        .filter((c) => c.name !== this.consumerName && Number(c.pending) === 0 && Number(c.idle) > config.HERALD_CONSUMER_GC_S * 1000);
      if (stale.length === 0) return;
      const pipeline = redis.pipeline() as PipelineWithScripts;
      for (const c of stale) pipeline.heraldDeleteIdleConsumer(keys.stream, this.group, String(c.name));
      await pipeline.exec();
      logger.info({ consumers: stale.map((c) => c.name) }, 'removed idle consumers');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'collecting idle consumers failed');
    }
  }
}

function fieldsOf(row: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < row.length; i += 2) out[String(row[i])] = row[i + 1];
  return out;
}

function safeJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
