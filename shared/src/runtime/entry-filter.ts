import type { ChannelDriver, Target, UserRecord } from '../channel-driver.js';
import type { Channel, Notification, SkipReason } from '@herald/client';
import { allows } from '@herald/client';

export interface FilterContext {
  channel: Channel;
  /** HERALD_TYPES as a set; undefined for `*` (every type). */
  types: Set<string> | undefined;
  driver: Pick<ChannelDriver, 'targets'>;
  now: number;
}

/**
 * Whether a channel delivers an entry, and to whom. Checked in this order, the first that
 * applies wins: the type is not in HERALD_TYPES (`type_filtered`); the entry names channels and
 * not this one (`not_requested`); it is past its expiresAt (`expired`); the user opted out of
 * this channel for this type (`opted_out`); there is no one to send to (`no_recipient`).
 */
export function filterEntry(
  n: Notification,
  user: UserRecord,
  ctx: FilterContext,
): { skip: SkipReason } | { targets: Target[] } {
  if (ctx.types && !ctx.types.has(n.type)) return { skip: 'type_filtered' };
  if (n.channels && !n.channels.includes(ctx.channel)) return { skip: 'not_requested' };
  if (n.expiresAt !== undefined && n.expiresAt <= ctx.now) return { skip: 'expired' };
  if (!allows(user.preferences, n.type, ctx.channel)) return { skip: 'opted_out' };
  const targets = ctx.driver.targets(n, user);
  if (targets.length === 0) return { skip: 'no_recipient' };
  return { targets };
}
