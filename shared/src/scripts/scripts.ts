import type { Redis } from 'ioredis';
import type { Channel, ChannelState } from '@herald/client';
import type { Keys } from '../layout/keys.js';
import {
  CLAIM_MARKS,
  claimField,
  encodeChannelStatus,
  redrivePassField,
  statusField,
  type ChannelStatus,
  type ClaimMark,
  type ClaimResult,
} from '../layout/notification-record.js';

export type { ClaimResult };
import { encodePushSubscription } from '../layout/push-subscriptions.js';
import type { StoredPushSubscription } from '@herald/client';
import { loadScript, type LoadedScript } from './load-script.js';

/**
 * The only code that knows each Lua script's keys, arguments and their order (see each file's
 * header). Callers name notifications, users and channels; the keys come from the layout.
 *
 * Scripts run on the connection itself, never in a pipeline: ioredis sends a script in a
 * pipeline as EVAL with its whole text every time, and on the connection as EVALSHA once Redis
 * knows it.
 */
const FILES = {
  claimBatch: loadScript('claim-batch-n.lua'),
  settleBatch: loadScript('settle-batch-3+n.lua'),
  deleteIdleConsumer: loadScript('delete-idle-consumer-1.lua'),
  publishBatch: loadScript('publish-batch-1+n.lua'),
  redrive: loadScript('redrive-5.lua'),
  dropDeadLetter: loadScript('drop-dead-letter-2.lua'),
  startPass: loadScript('start-pass-1.lua'),
  requestLimitBatch: loadScript('request-limit-batch-n.lua'),
  holdRecords: loadScript('hold-records-1.lua'),
  addPushSubscription: loadScript('add-push-subscription-1.lua'),
  rateLimit: loadScript('rate-limit-1.lua'),
};
type ScriptName = keyof typeof FILES;
type Arg = string | number;
type Command = (numberOfKeys: number, ...keysAndArgs: Arg[]) => Promise<unknown>;

/** Every script this module runs, for the tests that check all of them. */
export const SCRIPTS: Readonly<Record<ScriptName, LoadedScript>> = Object.freeze(FILES);

/** A claim of one entry's targets, leased to its attempt's token. */
export interface TargetClaim {
  /** The notification id. */
  id: string;
  token: string;
  /** The channel's pass for the entry. */
  pass: number;
  /** The targets' keys (`email`, `push:<hash>`). */
  targets: readonly string[];
}

/** One entry's outcome for the settle script. */
export interface EntrySettlement {
  /** Undefined for a malformed entry that names no notification (nothing but the letter and the ack). */
  id: string | undefined;
  userId: string | undefined;
  type: string | undefined;
  ts: number | undefined;
  streamId: string;
  token: string;
  status: ChannelStatus | undefined;
  /** `ack`: acknowledge; `retry`: stays pending, its idle time restarting now; `none`. */
  action: 'ack' | 'retry' | 'none';
  /** Pairs of a target's key and its mark. */
  marks: readonly (readonly [target: string, mark: ClaimMark])[];
  /** The dead letter's fields and values (see encodeDeadLetter); empty for none. */
  deadLetter: readonly string[];
}

/** One notification for the publish script. */
export interface PublishItem {
  id: string;
  fingerprint: string;
  now: number;
  userId: string;
  type: string;
  /** The publishing key's scope as an anchored Lua pattern; '' for every user. */
  scope: string;
  /** The entry's fields and values. */
  fields: readonly string[];
}

/** What redrive answers when the channel was delivered meanwhile. */
export const REDRIVE_DELIVERED: ChannelState = 'delivered';

export type PublishReply = [status: 'accepted' | 'duplicate' | 'mismatch' | 'taken', streamId: string];

export class Scripts {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    for (const name of Object.keys(FILES) as ScriptName[])
      redis.defineCommand(commandName(name), { lua: FILES[name].lua });
  }

  /** claim-batch-n.lua: per entry the pass in effect, then a result per target. */
  async claimBatch(
    channel: Channel,
    leaseMs: number,
    recordTtlS: number,
    claims: readonly TargetClaim[],
  ): Promise<[number, ...ClaimResult[]][]> {
    return (await this.run(
      'claimBatch',
      claims.map((c) => this.keys.notification(c.id)),
      [
        leaseMs,
        recordTtlS,
        redrivePassField(channel),
        ...claims.flatMap((c) => [c.token, c.pass, c.targets.length, ...c.targets.map(claimField)]),
      ],
    )) as [number, ...ClaimResult[]][];
  }

  /** settle-batch-3+n.lua: every entry's outcome and acknowledgement, in one atomic step. */
  async settleBatch(
    channel: Channel,
    group: string,
    consumer: string,
    recordTtlS: number,
    entries: readonly EntrySettlement[],
  ): Promise<void> {
    await this.run(
      'settleBatch',
      [
        this.keys.stream,
        this.keys.deadLetters,
        this.keys.deadLetterCounts,
        ...entries.map((e) => this.keys.notification(e.id ?? '')),
      ],
      [group, consumer, recordTtlS, statusField(channel), ...entries.flatMap(settleArgs)],
    );
  }

  /** delete-idle-consumer-1.lua, for each consumer: removed only while it has nothing pending. */
  async deleteIdleConsumers(group: string, consumers: readonly string[]): Promise<void> {
    // One failing (a consumer someone removed meanwhile) does not keep the others.
    await Promise.allSettled(
      consumers.map((consumer) => this.run('deleteIdleConsumer', [this.keys.stream], [group, consumer])),
    );
  }

  /** publish-batch-1+n.lua: append each notification once per id. */
  async publishBatch(
    idempotencyMs: number,
    recordTtlS: number,
    maxLen: number,
    items: readonly PublishItem[],
  ): Promise<PublishReply[]> {
    return (await this.run(
      'publishBatch',
      [this.keys.stream, ...items.map((n) => this.keys.notification(n.id))],
      [
        idempotencyMs,
        recordTtlS,
        maxLen,
        ...items.flatMap((n) => [n.fingerprint, n.now, n.userId, n.type, n.scope, n.fields.length, ...n.fields]),
      ],
    )) as PublishReply[];
  }

  /** redrive-5.lua: the new entry's stream id, `delivered` when it was meanwhile, null when there is no such letter. */
  async redrive(
    letter: { dlqId: string; channel: Channel; id: string },
    now: number,
    maxLen: number,
    recordTtlS: number,
    fields: readonly string[],
  ): Promise<string | null> {
    const { keys } = this;
    const reply = await this.run(
      'redrive',
      [keys.deadLetters, keys.deadLetterCounts, keys.notification(letter.id), keys.stream, keys.passes(letter.channel)],
      [letter.dlqId, letter.channel, now, maxLen, recordTtlS, ...fields],
    );
    return typeof reply === 'string' ? reply : null;
  }

  /** drop-dead-letter-2.lua: whether there was such a letter. */
  async dropDeadLetter(dlqId: string, channel: string): Promise<boolean> {
    return (
      Number(
        await this.run('dropDeadLetter', [this.keys.deadLetters, this.keys.deadLetterCounts], [dlqId, channel]),
      ) === 1
    );
  }

  /** start-pass-1.lua: the new pass's number. */
  async startPass(channel: Channel, fromId: string): Promise<number> {
    return Number(await this.run('startPass', [this.keys.passes(channel)], [fromId]));
  }

  /** request-limit-batch-n.lua: per request, 0 when it may go, else the ms until it would. */
  async requestLimitBatch(
    perMinute: number,
    requests: readonly { caller: string; units: number }[],
  ): Promise<number[]> {
    return (await this.run(
      'requestLimitBatch',
      requests.map((r) => this.keys.requestBudget(r.caller)),
      [perMinute, ...requests.map((r) => r.units)],
    )) as number[];
  }

  /** hold-records-1.lua: [0] when held, else [held now, ms until the oldest record expires]. */
  async holdRecords(
    caller: string,
    now: number,
    expiresAt: number,
    cap: number,
    ids: readonly string[],
  ): Promise<[number, number?]> {
    return (await this.run('holdRecords', [this.keys.heldRecords(caller)], [now, expiresAt, cap, ...ids])) as [
      number,
      number?,
    ];
  }

  /** add-push-subscription-1.lua: [added (1 new, 0 replaced), how many of the oldest were dropped]. */
  async addPushSubscription(
    userId: string,
    subscription: StoredPushSubscription,
    max: number,
  ): Promise<[number, number]> {
    const { field, value } = encodePushSubscription(subscription);
    return (await this.run('addPushSubscription', [this.keys.pushSubscriptions(userId)], [field, value, max])) as [
      number,
      number,
    ];
  }

  /** rate-limit-1.lua: 0 when a send may go now, else the ms until the next second. */
  async rateLimit(channel: Channel, perSecond: number): Promise<number> {
    return Number(await this.run('rateLimit', [this.keys.sendRate(channel)], [perSecond]));
  }

  private run(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    const script = FILES[name];
    if (keys.length < script.fixedKeys || (!script.perItem && keys.length !== script.fixedKeys)) {
      throw new Error(
        `${script.file} takes ${script.fixedKeys}${script.perItem ? ' + n' : ''} keys, not ${keys.length}`,
      );
    }
    return (this.redis as unknown as Record<string, Command>)[commandName(name)]!(keys.length, ...keys, ...args);
  }
}

function commandName(name: ScriptName): string {
  return `herald_${name}`;
}

/** An entry's part of the settle script's arguments, in settle-batch-3+n.lua's order. */
function settleArgs(e: EntrySettlement): Arg[] {
  // An entry that names no notification or no user gets no status, claims or record of its own.
  const known = e.id !== undefined && e.userId !== undefined;
  const status = known && e.status ? encodeChannelStatus(e.status) : '';
  const marks = known ? e.marks.flatMap(([target, mark]) => [claimField(target), CLAIM_MARKS[mark]]) : [];
  // Laid out by hand, grouped as settle-batch-3+n.lua reads them.
  // prettier-ignore
  return [
    status, e.token,
    known ? e.userId! : '', e.type ?? '', String(e.ts ?? 0),
    e.streamId, e.action,
    marks.length / 2, ...marks,
    e.deadLetter.length, ...e.deadLetter,
  ];
}
