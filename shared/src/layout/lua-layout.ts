import { CHANNEL_STATES, SKIP_REASONS } from '@herald/client';
import {
  CLAIM_MARKS,
  CLAIM_RESULTS,
  RECORD_FIELDS,
  RECORD_FIELD_PREFIXES,
  STATUS_KEYS,
} from './notification-record.js';
import { PASS_COUNTER_FIELD } from './passes.js';
import { PUSH_SUBSCRIPTION_KEYS } from './push-subscriptions.js';
import { SEND_RATE_FIELDS } from './send-rate.js';

/**
 * The layout's names as Lua constants: the `layout` include of the scripts (see
 * scripts/load-script.ts), generated from this folder's TypeScript so that no script spells a
 * field name, a status key or a claim mark of its own.
 *
 *   RECORD.userId → 'uid'   PREFIX.status → 's:'   STATUS.state → 's'   STATE.delivered
 *   SKIP.expired            MARK.lease → 'l'       RESULT.busy → 'busy'   PASSES.counter → 'seq'
 *   SEND_RATE.count → 'n'   PUSH.createdAt
 */
export function luaLayout(): string {
  // The scripts tell a claim field's kind by its first character.
  for (const mark of Object.values(CLAIM_MARKS))
    if (mark.length !== 1) throw new Error(`claim mark ${mark} must be one character`);
  return [
    luaTable('RECORD', RECORD_FIELDS),
    luaTable('PREFIX', RECORD_FIELD_PREFIXES),
    luaTable('STATUS', STATUS_KEYS),
    luaTable('STATE', Object.fromEntries(CHANNEL_STATES.map((s) => [s, s]))),
    luaTable('SKIP', Object.fromEntries(SKIP_REASONS.map((r) => [r, r]))),
    luaTable('MARK', CLAIM_MARKS),
    luaTable('RESULT', CLAIM_RESULTS),
    luaTable('PASSES', { counter: PASS_COUNTER_FIELD }),
    luaTable('SEND_RATE', SEND_RATE_FIELDS),
    luaTable('PUSH', PUSH_SUBSCRIPTION_KEYS),
  ].join('\n');
}

function luaTable(name: string, values: Readonly<Record<string, string>>): string {
  const entries = Object.entries(values).map(([key, value]) => `${key} = ${luaString(value)}`);
  return `local ${name} = { ${entries.join(', ')} }`;
}

function luaString(value: string): string {
  if (!/^[\w:.*-]*$/.test(value)) throw new Error(`layout value ${JSON.stringify(value)} is not a plain Lua string`);
  return `'${value}'`;
}
