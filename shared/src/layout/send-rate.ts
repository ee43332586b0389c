/**
 * A channel's send budget for the current second (`keys.sendRate(channel)`, HERALD_RATE_PER_S):
 * a hash of the second (Redis's clock) and the sends taken in it, kept by rate-limit-1.lua.
 */
export const SEND_RATE_FIELDS = Object.freeze({ second: 's', count: 'n' });
