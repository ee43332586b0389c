import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis } from 'ioredis';

/**
 * The runtime's three Lua scripts, read once and taught to the command connection. Each is
 * called by exactly one function: the claim in claims.ts, the settle in settlement.ts, the
 * deletion of an idle consumer in consumer-cleanup.ts.
 */
const lua = (name: string) => readFileSync(new URL(`../lua/${name}`, import.meta.url), 'utf8');
const CLAIM_SCRIPT = lua('claim-batch.lua');
const SETTLE_SCRIPT = lua('settle-batch.lua');
const DELETE_IDLE_CONSUMER_SCRIPT = lua('delete-idle-consumer-1.lua');

/** The scripts, called on the connection itself (see claims.ts); keys counted first. */
export interface ScriptCommands {
  heraldClaim(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  heraldSettle(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
}

export type PipelineWithScripts = ChainableCommander & {
  heraldDeleteIdleConsumer(stream: string, group: string, consumer: string): ChainableCommander;
};

export function defineScripts(redis: Redis): void {
  redis.defineCommand('heraldClaim', { lua: CLAIM_SCRIPT });
  redis.defineCommand('heraldSettle', { lua: SETTLE_SCRIPT });
  redis.defineCommand('heraldDeleteIdleConsumer', { numberOfKeys: 1, lua: DELETE_IDLE_CONSUMER_SCRIPT });
}
