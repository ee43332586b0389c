/**
 * A publish key's scope: the users it may act on, as a pattern of user ids where `*` stands for
 * any run of characters (`acme-*`, `*-eu`, `tenant:*:staff`). Given in HERALD_API_KEYS as
 * `key:pattern`; a key without one reaches every user.
 */
export type UserScope = (userId: string) => boolean;

export const EVERY_USER: UserScope = () => true;

/** One entry of HERALD_API_KEYS: the key, and its scope's pattern when it has one. */
export interface ScopedKey {
  key: string;
  pattern: string | undefined;
}

/**
 * Split `key` or `key:pattern` at the first colon (keys hold no colon; user ids may). Returns a
 * problem to report instead when the entry cannot be used.
 */
export function parseScopedKey(entry: string): ScopedKey | { problem: string } {
  const colon = entry.indexOf(':');
  if (colon === -1) return { key: entry, pattern: undefined };
  const key = entry.slice(0, colon);
  const pattern = entry.slice(colon + 1);
  // The key itself is never quoted back: the message names the entry by its scope only.
  // Nothing of the entry is quoted: what looks like a scope may be a key's own text.
  if (key === '') return { problem: 'an entry starts with a colon: write key:pattern (such as key1:acme-*), or the key alone' };
  if (pattern === '') return { problem: 'an entry ends with a colon but names no scope: write key:pattern (such as acme-*), or the key alone' };
  if (/[\u0000-\u001f\u007f]/.test(pattern)) return { problem: `the scope of an entry holds a control character` };
  return { key, pattern };
}

/**
 * The same scope as a Lua pattern, anchored, for scripts that must decide inside Redis (the
 * publish script, about a record another key made): every ASCII character but letters and digits
 * is escaped, and `*` becomes `.*`. Undefined for a scope of every user.
 */
export function luaScopePattern(pattern: string | undefined): string | undefined {
  if (pattern === undefined || pattern === '*') return undefined;
  const body = [...pattern].map((c) => (c === '*' ? '.*' : /[\x00-\x7f]/.test(c) && !/[A-Za-z0-9]/.test(c) ? `%${c}` : c)).join('');
  return `^${body}$`;
}

/** The scope a pattern describes; matched against the whole user id. */
export function userScope(pattern: string | undefined): UserScope {
  if (pattern === undefined || pattern === '*') return EVERY_USER;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*');
  const regex = new RegExp(`^${source}$`, 'u');
  return (userId) => regex.test(userId);
}
