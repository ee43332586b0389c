import { loadScript } from './scripts/load-script.js';
import type { ChainableCommander, Redis } from 'ioredis';
import { abortable } from './abortable.js';
import { DeliveryError, type ChannelDriver, type SendResult, type Target, type UserRecord } from './channel-driver.js';
import { createGroupAtStart } from './consumer-group.js';
import { filterEntry } from './entry-filter.js';
import { parsePasses, passOf, type Passes } from './layout/passes.js';
import { GROUPS, type Channel, type Notification } from './glossary.js';
import type { Keys } from './layout/keys.js';
import type { Logger } from './logger.js';
import { claimField, encodeChannelStatus, statusField, type ChannelStatus } from './layout/notification-record.js';
import type { StoredPushSubscription } from './push-subscription.js';
import { redactContactData } from './redact.js';
import { toRecord } from './redis-replies.js';
import { reconnectDelay } from './redis.js';
import { retryDelayMs } from './retry-policy.js';
import { SendDeadlines } from './send-deadlines.js';
import { decodeEntry } from './stream-codec.js';
import type { Preferences } from './user.js';
import type { WorkerConfig } from './worker-config.js';
import type { WorkerMetrics } from './worker-metrics.js';
import { WriteBatcher } from './write-batcher.js';

// Interim, until the runtime uses the scripts module.
const CLAIM_SCRIPT = loadScript('claim-batch-n.lua').lua;
const SETTLE_SCRIPT = loadScript('settle-batch-3+n.lua').lua;
const DELETE_IDLE_CONSUMER_SCRIPT = loadScript('delete-idle-consumer-1.lua').lua;

/** Longest a blocking read waits before the loop looks around again (the issue caps it at 5 s). */
const BLOCK_MS = 2000;
/** How often idle consumers are looked for. */
const CONSUMER_GC_INTERVAL_MS = 60_000;
/** Pages of XPENDING the reclaimer reads per scan, and entries per page. */
const RECLAIM_PAGES = 5;
const RECLAIM_PAGE_SIZE = 200;
/** Most of an entry's original fields copied into its dead letter (Lua's unpack has a limit). */
const DEAD_LETTER_MAX_FIELDS = 2000;

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
  /** Names this attempt in delivery claims: a duplicate entry or a later attempt is someone else. */
  token: string;
  /** Its outcome is queued for writing; the write frees its slot. */
  settling: boolean;
  /** The delivery pass it belongs to on this channel (see passes.ts). */
  pass: number;
}

type ClaimResult = 'ok' | 'done' | 'busy';

type SendOutcome =
  | { target: Target; result: SendResult }
  | { target: Target; error: DeliveryError }
  /** No answer in time: the provider may still accept it, so its lease is kept. */
  | { target: Target; unknown: Promise<SendResult> };

type Mark = readonly [Target, 'd' | 'f' | 'r'];

/** A claim of an entry's targets, leased to its attempt's token. */
interface LeaseClaim {
  record: string;
  token: string;
  pass: number;
  fields: string[];
}

/** The scripts, called on the connection itself (see claimTargets); keys counted first. */
interface ScriptCommands {
  heraldClaim(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  heraldSettle(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
}

type PipelineWithScripts = ChainableCommander & {
  heraldDeleteIdleConsumer(stream: string, group: string, consumer: string): ChainableCommander;
};

/** An entry's share of a settle script call: its record, and its arguments in settle-batch.lua's order. */
interface SettlePart {
  record: string;
  args: (string | number)[];
}

interface Settlement {
  status?: Omit<ChannelStatus, 'attempts' | 'updatedAt'>;
  marks?: readonly Mark[];
  action: 'ack' | 'retry' | 'none';
  deadLetter?: { reason: DeadLetterReason; error: string };
  /** Best-effort commands after the settle (removing gone push subscriptions). */
  extra?: (pipeline: ChainableCommander) => void;
}

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
  private readonly batcher: WriteBatcher<SettlePart>;
  private readonly deadlines: SendDeadlines;
  private readonly leaseMs: number;
  private readonly recordTtlS: number;
  private readonly types: Set<string> | undefined;
  private slotWaiters: (() => void)[] = [];
  private running = false;
  private readLoopDone: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  /**
   * Sends that timed out but may still go through: their leases are renewed until the provider
   * answers, so no other attempt sends meanwhile (by record, field and token).
   */
  private readonly unknownOutcomes = new Map<string, { record: string; field: string; token: string; pass: number }>();
  /** Counts reads, so every attempt's token is its own even when delivery counts repeat. */
  private reads = 0;
  /** Where the next XPENDING scan starts, so pages past the first are reached too. */
  private reclaimCursor = '-';
  private closing?: Promise<void>;
  /**
   * Aborted when the shutdown's drain time is up: what waits for a rate limit or a send stops.
   * One for every entry (one controller per entry showed in profiles).
   */
  private readonly stopping = new AbortController();

  constructor(private readonly options: ConsumerOptions) {
    const { config, channel, redis } = options;
    this.group = GROUPS[channel];
    this.consumerName = config.HERALD_CONSUMER;
    this.batcher = new WriteBatcher<SettlePart>(redis, options.logger, (parts) => this.settleParts(parts));
    this.deadlines = new SendDeadlines(config.HERALD_SEND_TIMEOUT_MS);
    // Longer than any send can take, so while one replica is sending no other one does.
    this.leaseMs = config.HERALD_SEND_TIMEOUT_MS + Math.max(2000, config.HERALD_SEND_TIMEOUT_MS / 2);
    this.recordTtlS = config.HERALD_RETENTION_S;
    this.types = config.HERALD_TYPES.includes('*') ? undefined : new Set(config.HERALD_TYPES);
    redis.defineCommand('heraldClaim', { lua: CLAIM_SCRIPT });
    redis.defineCommand('heraldSettle', { lua: SETTLE_SCRIPT });
    redis.defineCommand('heraldDeleteIdleConsumer', { numberOfKeys: 1, lua: DELETE_IDLE_CONSUMER_SCRIPT });
  }

  /** Entries being handled right now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Create the group if needed and start reading, taking back and collecting idle consumers. */
  async start(): Promise<void> {
    await this.ensureGroup();
    if (this.closing) return;
    this.running = true;
    this.readLoopDone = this.readLoop();
    this.timers = [
      setInterval(() => void this.keepAlive(), Math.max(500, Math.floor(this.leaseMs / 3))),
      setInterval(() => void this.collectIdleConsumers(), CONSUMER_GC_INTERVAL_MS),
    ];
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
    const deadline = Date.now() + this.options.config.HERALD_SHUTDOWN_MS;
    this.running = false;
    for (const timer of this.timers) clearInterval(timer);
    // Interrupts a blocked XREADGROUP; anything it had been handed stays pending for others.
    this.options.blockingRedis.disconnect();
    this.wakeSlotWaiters();
    // With Redis unreachable a queued read may never settle: do not wait past the deadline.
    await Promise.race([this.readLoopDone, delay(Math.max(0, deadline - Date.now()))]);
    const drained = await this.waitForIdle(deadline - Date.now());
    if (!drained) {
      this.options.logger.warn({ inFlight: this.inFlight.size }, 'shutdown time is up: aborting deliveries in flight');
      const reason = new Error('worker shutting down');
      this.stopping.abort(reason);
      this.deadlines.abortAll(reason);
      await this.waitForIdle(1000);
    }
    this.batcher.close();
  }

  private async ensureGroup(): Promise<void> {
    const { redis, keys, logger } = this.options;
    if (await createGroupAtStart(redis, keys.stream, this.group)) logger.info({ group: this.group }, 'created consumer group from 0');
  }

  private get freeSlots(): number {
    return Math.max(0, this.options.config.HERALD_CONCURRENCY - this.inFlight.size);
  }

  /**
   * One loop takes back due entries and reads new ones, in turn, so both draw on the same free
   * slots and never hold more than HERALD_CONCURRENCY between them. The blocking read waits at
   * most half the first retry delay (50 ms to 2 s), so retries are not held up by a quiet stream.
   */
  private async readLoop(): Promise<void> {
    const { blockingRedis, keys, logger, config } = this.options;
    const blockMs = Math.min(BLOCK_MS, Math.max(50, Math.floor(config.HERALD_RETRY_BASE_MS / 2)));
    let nextReclaim = 0;
    let failures = 0;
    while (this.running) {
      // Never COUNT 0, which Redis reads as "no limit": wait for a slot instead.
      if (this.freeSlots === 0) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
      if (!this.running) break;
      if (Date.now() >= nextReclaim) {
        await this.reclaim();
        nextReclaim = Date.now() + blockMs;
      }
      const count = Math.min(this.freeSlots, config.HERALD_BATCH);
      if (count === 0) continue;
      try {
        const reply = (await blockingRedis.xreadgroup(
          'GROUP', this.group, this.consumerName,
          'COUNT', count,
          'BLOCK', blockMs,
          'STREAMS', keys.stream, '>',
        )) as [string, [string, string[]][]][] | null;
        failures = 0;
        const entries = reply?.[0]?.[1];
        const items = (entries ?? []).map(([streamId, fields]) => this.track(streamId, fields, 1)).filter((i) => i !== undefined);
        if (items.length) this.handle(items);
      } catch (err) {
        if (!this.running) break;
        const message = String((err as Error).message);
        const wait = reconnectDelay(++failures);
        logger.warn({ err: message, retryInMs: wait }, 'reading the stream failed');
        await delay(wait);
        // The group (or the stream) was removed under us, e.g. by an operator: make it again.
        if (message.startsWith('NOGROUP')) await this.ensureGroup().catch(() => undefined);
      }
    }
  }

  /** Start handling an entry; undefined when this replica is handling it already. */
  private track(streamId: string, fields: string[], attempt: number): WorkItem | undefined {
    // A replay (XGROUP SETID) hands back entries that may still be in flight here.
    if (this.inFlight.has(streamId)) return undefined;
    const item: WorkItem = {
      streamId,
      fields,
      attempt,
      token: `${this.consumerName}|${streamId}|${attempt}|${++this.reads}`,
      settling: false,
      pass: 0,
    };
    this.inFlight.set(streamId, item);
    this.options.metrics.inFlight.labels(this.options.channel).set(this.inFlight.size);
    return item;
  }

  private finish(item: WorkItem, acknowledged: boolean): void {
    if (this.inFlight.get(item.streamId) !== item) return;
    this.inFlight.delete(item.streamId);
    if (acknowledged) this.notBefore.delete(item.streamId);
    this.options.metrics.inFlight.labels(this.options.channel).set(this.inFlight.size);
    this.wakeSlotWaiters();
  }

  /** Free an entry's slot without writing anything: it stays pending and comes back later. */
  private leavePending(item: WorkItem): void {
    if (!item.settling) this.finish(item, false);
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
      for (const item of items) this.leavePending(item);
    });
  }

  private async handleBatch(items: WorkItem[]): Promise<void> {
    const { channel, metrics, logger } = this.options;
    const decoded: { item: WorkItem; n: Notification }[] = [];
    for (const item of items) {
      const result = decodeEntry(item.fields);
      if (result.ok) {
        decoded.push({ item, n: result.notification });
        continue;
      }
      const { error } = result;
      logger.warn({ streamId: item.streamId, field: error.field }, 'malformed entry: dead-lettered');
      this.settle(item, { id: error.id, userId: error.userId }, {
        ...(error.id && error.userId ? { status: { state: 'dead', reason: 'malformed', error: error.message } } : {}),
        action: 'ack',
        deadLetter: { reason: 'malformed', error: error.message },
      });
    }
    if (decoded.length === 0) return;

    const { users, passes } = await this.lookUp(decoded.map((d) => d.n.userId));
    for (const { item } of decoded) item.pass = passOf(item.streamId, passes);
    const deliverable: { item: WorkItem; n: Notification; targets: Target[] }[] = [];
    for (const { item, n } of decoded) {
      const user = users.get(n.userId);
      if (user instanceof Error) {
        logger.warn({ streamId: item.streamId, err: user.message }, 'user look-up failed; entry left pending');
        this.leavePending(item);
        continue;
      }
      const verdict = filterEntry(n, user!, { channel, types: this.types, driver: this.options.driver, now: Date.now() });
      if ('skip' in verdict) {
        metrics.skipped.labels(channel, verdict.skip).inc();
        this.settle(item, n, { status: { state: 'skipped', reason: verdict.skip }, action: 'ack' });
      } else {
        deliverable.push({ item, n, targets: verdict.targets });
      }
    }
    if (deliverable.length === 0) return;

    const deliverLogged = (d: (typeof deliverable)[number], claims: ClaimResult[] | Error) => {
      if (claims instanceof Error) {
        logger.warn({ streamId: d.item.streamId, err: claims.message }, 'claim failed; entry left pending');
        this.leavePending(d.item);
        return;
      }
      this.deliver(d.item, d.n, d.targets, claims).catch((err: unknown) => {
        logger.error({ err, streamId: d.item.streamId }, 'delivery failed unexpectedly; entry left pending');
        this.leavePending(d.item);
      });
    };
    const { driver } = this.options;
    if (driver.throttle) {
      // Rate-limited: each entry waits for its turn, then claims on its own. A claim taken before
      // a long wait could run out while waiting; one taken after it cannot.
      for (const d of deliverable) {
        void (async () => {
          for (let i = 0; i < d.targets.length; i++) await driver.throttle!(this.stopping.signal);
          const [claims] = await this.claim([d]);
          deliverLogged(d, claims!);
        })().catch((err: unknown) => {
          logger.warn({ err: (err as Error).message, streamId: d.item.streamId }, 'entry left pending');
          this.leavePending(d.item);
        });
      }
      return;
    }
    const claims = await this.claim(deliverable);
    deliverable.forEach((d, i) => deliverLogged(d, claims[i]!));
  }

  /**
   * Every user of a batch, and the channel's passes, in one round trip; a user whose look-up
   * failed maps to its error.
   */
  private async lookUp(userIds: string[]): Promise<{ users: Map<string, UserRecord | Error>; passes: Passes }> {
    const { redis, keys, driver, channel } = this.options;
    const unique = [...new Set(userIds)];
    const pipeline = redis.pipeline();
    pipeline.hgetall(keys.passes(channel));
    for (const userId of unique) {
      pipeline.hgetall(keys.user(userId));
      if (driver.needsPushSubscriptions) pipeline.hgetall(keys.pushSubscriptions(userId));
    }
    const [[passesErr, passesHash] = [new Error('no reply'), null], ...replies] = (await pipeline.exec()) ?? [];
    if (passesErr) throw passesErr;
    const users = new Map<string, UserRecord | Error>();
    const stride = driver.needsPushSubscriptions ? 2 : 1;
    unique.forEach((userId, i) => {
      const [userErr, userHash] = replies[i * stride] ?? [new Error('no reply'), null];
      const [subsErr, subs] = driver.needsPushSubscriptions ? (replies[i * stride + 1] ?? [new Error('no reply'), null]) : [null, null];
      if (userErr || subsErr) {
        users.set(userId, (userErr ?? subsErr)!);
        return;
      }
      const hash = (userHash ?? {}) as Record<string, string>;
      const record: UserRecord = { pushSubscriptions: [] };
      if (hash.email) record.email = hash.email;
      if (hash.phone) record.phone = hash.phone;
      if (hash.locale) record.locale = hash.locale;
      if (hash.prefs) record.preferences = safeJson<Preferences>(hash.prefs);
      for (const text of Object.values((subs ?? {}) as Record<string, string>)) {
        const sub = safeJson<StoredPushSubscription>(text);
        if (sub?.endpoint && sub.keys) record.pushSubscriptions.push(sub);
      }
      users.set(userId, record);
    });
    return { users, passes: parsePasses(passesHash as Record<string, string>) };
  }

  /** Claim every target of every entry in one round trip; an entry whose claim failed maps to its error. */
  private async claim(batch: { item: WorkItem; n: Notification; targets: Target[] }[]): Promise<(ClaimResult[] | Error)[]> {
    const { keys } = this.options;
    let replies: [number, ...ClaimResult[]][];
    try {
      replies = await this.claimTargets(
        batch.map(({ item, n, targets }) => ({ record: keys.notification(n.id), token: item.token, pass: item.pass, fields: targets.map((t) => claimField(t.key)) })),
      );
    } catch (err) {
      return batch.map(() => err as Error);
    }
    return batch.map(({ item }, i) => {
      // The claim answers the pass in effect first: a redrive may have started a later one.
      const [pass, ...claims] = replies[i]!;
      item.pass = Number(pass);
      return claims;
    });
  }

  /**
   * One claim script call for many entries (see claim-batch.lua), on the connection itself:
   * ioredis would send it in a pipeline as EVAL with the script's whole text every time.
   */
  private async claimTargets(claims: LeaseClaim[]): Promise<[number, ...ClaimResult[]][]> {
    return (await (this.options.redis as unknown as ScriptCommands).heraldClaim(
      claims.length,
      ...claims.map((c) => c.record),
      this.leaseMs, this.recordTtlS, `p:${this.options.channel}`,
      ...claims.flatMap((c) => [c.token, c.pass, c.fields.length, ...c.fields]),
    )) as [number, ...ClaimResult[]][];
  }

  private async deliver(item: WorkItem, n: Notification, targets: Target[], claims: ClaimResult[]): Promise<void> {
    const { config, channel, metrics } = this.options;
    const toSend = targets.filter((_, i) => claims[i] === 'ok');
    const alreadyDone = claims.filter((c) => c === 'done').length;
    const busy = claims.filter((c) => c === 'busy').length;

    if (toSend.length === 0) {
      if (busy > 0) {
        // Another attempt holds a lease (another replica sending, or a send whose outcome is
        // not known yet): it settles the targets, and this entry comes back to see the result.
        this.leavePending(item);
      } else {
        // Delivered before (a redelivery, a replay, a duplicate entry): acknowledge, send nothing.
        metrics.deliveries.labels(channel, 'duplicate').inc();
        this.settle(item, n, { status: { state: 'delivered' }, action: 'ack' });
      }
      return;
    }
    const release = toSend.map((t) => [t, 'r'] as const);
    if (item.attempt > config.HERALD_MAX_ATTEMPTS) {
      // Taken back more often than allowed without settling (a crash loop, say).
      const marks = toSend.map((t) => [t, 'f'] as const);
      this.settleDead(item, n, marks, 'max_attempts', 'attempts exhausted before a send could settle', alreadyDone > 0);
      return;
    }
    // Checked again at the last moment: an OTP must never go out late.
    if (n.expiresAt !== undefined && n.expiresAt <= Date.now()) {
      metrics.skipped.labels(channel, 'expired').inc();
      // A push that reached one subscription before stays delivered.
      const status = alreadyDone > 0 ? ({ state: 'delivered' } as const) : ({ state: 'skipped', reason: 'expired' } as const);
      this.settle(item, n, { status, marks: release, action: 'ack' });
      return;
    }

    const outcomes = await Promise.all(toSend.map((target) => this.sendOne(item, n, target)));
    const sent = outcomes.filter((o) => 'result' in o);
    const failed = outcomes.filter((o) => 'error' in o);
    const unknown = outcomes.filter((o) => 'unknown' in o);
    if (this.stopping.signal.aborted) {
      // Shutdown cut sends short. Mark what is known for sure, keep the other leases (those
      // sends may still go through), and leave the entry pending for another replica.
      const known: Mark[] = sent.map((o) => [o.target, 'd'] as const);
      if (known.length) void this.write(item, n, { marks: known, action: 'none' }).catch(() => undefined);
      this.leavePending(item);
      return;
    }
    for (const { target, unknown: late } of unknown) this.settleWhenKnown(item, n, target, late);
    const transient = failed.filter((o) => o.error.kind === 'transient');
    const gone = failed.filter((o) => o.error.kind === 'gone');
    const outOfAttempts = item.attempt >= config.HERALD_MAX_ATTEMPTS;
    const extra = gone.length
      ? (pipeline: ChainableCommander) => {
          for (const { target } of gone) pipeline.hdel(this.options.keys.pushSubscriptions(n.userId), target.address);
        }
      : undefined;

    if ((transient.length > 0 && !outOfAttempts) || busy > 0 || unknown.length > 0) {
      const marks: Mark[] = [
        ...sent.map((o) => [o.target, 'd'] as const),
        ...failed.map((o) => [o.target, o.error.kind === 'transient' ? 'r' : 'f'] as const),
      ];
      const retryAfterMs = Math.max(0, ...transient.map((o) => o.error.retryAfterMs ?? 0));
      if (retryAfterMs > 0) this.notBefore.set(item.streamId, Date.now() + retryAfterMs);
      const error = transient[0]?.error.message ?? (unknown.length ? `no answer within ${config.HERALD_SEND_TIMEOUT_MS} ms` : undefined);
      metrics.deliveries.labels(channel, 'retried').inc();
      this.settle(item, n, { status: { state: 'retrying', ...(error ? { error } : {}) }, marks, action: 'retry', ...(extra ? { extra } : {}) });
      return;
    }

    // Final: transient failures count as failed for good once out of attempts.
    const marks: Mark[] = [...sent.map((o) => [o.target, 'd'] as const), ...failed.map((o) => [o.target, 'f'] as const)];
    if (sent.length > 0 || alreadyDone > 0) {
      metrics.deliveries.labels(channel, 'delivered').inc();
      const providerId = sent.find((o) => o.result.providerId)?.result.providerId;
      this.settle(item, n, { status: { state: 'delivered', ...(providerId ? { providerId } : {}) }, marks, action: 'ack', ...(extra ? { extra } : {}) });
      return;
    }
    const reason: DeadLetterReason =
      transient.length > 0 ? 'max_attempts' : failed.every((o) => o.error.kind === 'gone') ? 'gone' : 'permanent';
    const error = (failed.find((o) => o.error.kind !== 'gone') ?? failed[0])!.error.message;
    this.settleDead(item, n, marks, reason, error, false, extra);
  }

  private settleDead(
    item: WorkItem,
    n: Notification,
    marks: readonly Mark[],
    reason: DeadLetterReason,
    error: string,
    someDelivered: boolean,
    extra?: (pipeline: ChainableCommander) => void,
  ): void {
    const { metrics, channel } = this.options;
    metrics.deliveries.labels(channel, someDelivered ? 'delivered' : 'dead').inc();
    this.settle(item, n, {
      status: someDelivered ? { state: 'delivered' } : { state: 'dead', reason, error },
      marks,
      action: 'ack',
      ...(someDelivered ? {} : { deadLetter: { reason, error } }),
      ...(extra ? { extra } : {}),
    });
  }

  private async sendOne(item: WorkItem, n: Notification, target: Target): Promise<SendOutcome> {
    const { driver, metrics, channel, logger } = this.options;
    if (this.stopping.signal.aborted) return { target, error: new DeliveryError('transient', 'the worker is stopping') };
    // Aborted at its time-out, or at shutdown with the rest (see shutdown()).
    const { signal, done } = this.deadlines.start();
    const started = performance.now();
    const send = Promise.resolve().then(() => driver.send(n, target, signal));
    try {
      // Raced against the signal too, in case a transport does not honour it.
      const result = await abortable(() => send, signal, `${channel} send`);
      metrics.sendDuration.labels(channel, 'success').observe((performance.now() - started) / 1000);
      return { target, result };
    } catch (err) {
      metrics.sendDuration.labels(channel, 'failure').observe((performance.now() - started) / 1000);
      if (signal.aborted && !(err instanceof DeliveryError && err.cause !== signal.reason)) {
        // Gave up waiting, but the provider may still take it: the outcome is unknown.
        logger.warn({ streamId: item.streamId, id: n.id, attempt: item.attempt }, 'send timed out; its outcome is not known yet');
        return { target, unknown: send };
      }
      const error = driver.classify(err);
      const safe = new DeliveryError(error.kind, redactContactData(error.message, [target.address]), error.retryAfterMs);
      logger.warn({ streamId: item.streamId, id: n.id, kind: safe.kind, error: safe.message, attempt: item.attempt }, 'send failed');
      return { target, error: safe };
    } finally {
      done();
    }
  }

  /**
   * A send that timed out keeps its lease; when the provider finally answers, mark the target
   * delivered (a later attempt then acknowledges the entry without sending) or release it.
   */
  private settleWhenKnown(item: WorkItem, n: Notification, target: Target, late: Promise<SendResult>): void {
    const record = this.options.keys.notification(n.id);
    const key = `${record}\n${target.key}\n${item.token}`;
    this.unknownOutcomes.set(key, { record, field: claimField(target.key), token: item.token, pass: item.pass });
    const { logger } = this.options;
    late
      .then(
        (result) => {
          logger.info({ streamId: item.streamId, id: n.id }, 'a send that timed out went through after all');
          return this.write(item, n, {
            status: { state: 'delivered', ...(result.providerId ? { providerId: result.providerId } : {}) },
            marks: [[target, 'd']],
            action: 'none',
          });
        },
        (err: unknown) => {
          logger.info({ streamId: item.streamId, id: n.id, err: redactContactData(String((err as Error)?.message), [target.address]) }, 'a send that timed out failed after all');
          return this.write(item, n, { marks: [[target, 'r']], action: 'none' });
        },
      )
      .catch(() => undefined)
      .finally(() => this.unknownOutcomes.delete(key));
  }

  /** Write an entry's outcome (one atomic script), batched with what settles in the same tick, then free its slot. */
  private settle(item: WorkItem, n: Partial<Pick<Notification, 'id' | 'userId' | 'type' | 'ts'>>, settlement: Settlement): void {
    item.settling = true;
    this.write(item, n, settlement).then(
      () => this.finish(item, settlement.action === 'ack'),
      () => this.finish(item, false),
    );
  }

  private write(item: WorkItem, n: Partial<Pick<Notification, 'id' | 'userId' | 'type' | 'ts'>>, s: Settlement): Promise<void> {
    const { keys, channel, config } = this.options;
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
          known ? marks.length : 0, ...(known ? marks.flatMap(([target, mark]) => [claimField(target.key), mark]) : []),
          letter.length, ...letter,
        ],
      },
      ...(s.extra ? { extra: s.extra } : {}),
    });
  }

  /** Every write queued in the same tick as one settle script call (see settle-batch.lua). */
  private settleParts(parts: SettlePart[]): Promise<unknown> {
    const { keys, channel, config, redis } = this.options;
    return (redis as unknown as ScriptCommands).heraldSettle(
      3 + parts.length,
      keys.stream, keys.deadLetters, keys.deadLetterCounts, ...parts.map((p) => p.record),
      this.group, config.HERALD_CONSUMER, this.recordTtlS, statusField(channel),
      ...parts.flatMap((p) => p.args),
    );
  }

  /**
   * Keep the entries this replica is working on from looking abandoned: XCLAIM ... JUSTID to
   * itself resets their idle time without counting a delivery, so other replicas do not take
   * back an entry that waits for a rate limit or a slow provider. Also renews the leases of
   * sends whose outcome is not known yet.
   */
  private async keepAlive(): Promise<void> {
    const ids = [...this.inFlight.keys()];
    if (ids.length === 0 && this.unknownOutcomes.size === 0) return;
    const { redis, keys, logger } = this.options;
    const renewals: Promise<unknown>[] = [];
    if (ids.length) renewals.push(redis.xclaim(keys.stream, this.group, this.consumerName, 0, ...ids, 'JUSTID'));
    // The same token claims its own lease again, which pushes its end further out.
    if (this.unknownOutcomes.size) {
      renewals.push(this.claimTargets([...this.unknownOutcomes.values()].map(({ record, field, token, pass }) => ({ record, token, pass, fields: [field] }))));
    }
    for (const result of await Promise.allSettled(renewals)) {
      if (result.status === 'rejected') logger.warn({ err: (result.reason as Error).message }, 'could not refresh entries in flight');
    }
  }

  /**
   * Take back entries that waited long enough: failed ones after their backoff, those of a
   * crashed replica once any lease it could hold has run out. XPENDING gives each entry's idle
   * time and delivery count; XCLAIM with that minimum idle time makes sure only one replica
   * gets each. The scan resumes where the last one stopped, so every pending entry is reached.
   */
  private async reclaim(): Promise<void> {
    if (!this.running || this.freeSlots === 0) return;
    const { redis, keys, config, logger } = this.options;
    try {
      const minIdle = Math.floor(config.HERALD_RETRY_BASE_MS * 0.75);
      const now = Date.now();
      const wanted = this.freeSlots;
      const due: { id: string; minIdle: number; attempt: number }[] = [];
      for (let page = 0; page < RECLAIM_PAGES && due.length < wanted; page++) {
        const rows = (await redis.xpending(keys.stream, this.group, 'IDLE', minIdle, this.reclaimCursor, '+', RECLAIM_PAGE_SIZE)) as [
          string, string, number, number,
        ][];
        for (const [id, owner, idle, deliveries] of rows) {
          this.reclaimCursor = `(${id}`;
          if (this.inFlight.has(id) || (this.notBefore.get(id) ?? 0) > now) continue;
          let required = retryDelayMs(deliveries, config.HERALD_RETRY_BASE_MS, config.HERALD_RETRY_MAX_MS, id);
          // Another replica's entry may be in the middle of a send there: wait out its lease.
          if (owner !== this.consumerName) required = Math.max(required, this.leaseMs);
          if (idle >= required) due.push({ id, minIdle: required, attempt: deliveries + 1 });
          if (due.length >= wanted) break;
        }
        if (rows.length < RECLAIM_PAGE_SIZE && due.length < wanted) {
          this.reclaimCursor = '-'; // reached the end: the next scan starts over
          break;
        }
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
        if (err || !entry || !this.running) return;
        const item = this.track(entry[0], entry[1] ?? [], attempt);
        if (item) items.push(item);
      });
      if (items.length) {
        logger.debug({ entries: items.length }, 'took back pending entries');
        this.handle(items);
      }
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'taking back pending entries failed');
    }
  }

  /** Remove consumers idle longer than HERALD_CONSUMER_GC_S that have nothing pending. */
  private async collectIdleConsumers(): Promise<void> {
    const { redis, keys, config, logger } = this.options;
    try {
      const rows = (await redis.xinfo('CONSUMERS', keys.stream, this.group)) as unknown[][];
      const stale = rows
        .map((row) => toRecord(row))
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function safeJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
