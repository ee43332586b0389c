/**
 * A publish key's scope: the users it may act on, as a pattern of user ids where `*` stands for
 * any run of characters (`acme-*`, `*-eu`, `tenant:*:staff`). Given in HERALD_API_KEYS as
 * `key:pattern`; a key without one reaches every user.
 */
export interface UserScope {
  /** Whether the scope holds this user (matched against the whole id). */
  includes(userId: string): boolean;
  /**
   * The same scope as an anchored Lua pattern, for scripts that must decide inside Redis (the
   * publish script, about a record another key made); undefined for every user.
   */
  lua: string | undefined;
}

export const EVERY_USER: UserScope = { includes: () => true, lua: undefined };

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
  if (key === '')
    return { problem: 'an entry starts with a colon: write key:pattern (such as key1:acme-*), or the key alone' };
  if (pattern === '')
    return {
      problem: 'an entry ends with a colon but names no scope: write key:pattern (such as acme-*), or the key alone',
    };
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(pattern)) return { problem: `the scope of an entry holds a control character` };
  return { key, pattern };
}

/** The scope a pattern describes (`*` any run of characters; every other character itself). */
export function userScope(pattern: string | undefined): UserScope {
  if (pattern === undefined || pattern === '*') return EVERY_USER;
  const parts = pattern.split('*');
  const regex = new RegExp(
    `^${parts.map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*')}$`,
    'u',
  );
  return { includes: (userId) => regex.test(userId), lua: `^${parts.map(luaLiteral).join('.*')}$` };
}

/** Exactly one user (a user token's): no character of the id is a wildcard, `*` included. */
export function singleUser(userId: string): UserScope {
  return { includes: (other) => other === userId, lua: `^${luaLiteral(userId)}$` };
}

/**
 * Text as a Lua pattern matching itself: every ASCII character but letters and digits escaped
 * with `%` (bytes of other UTF-8 characters are never magic in a Lua pattern).
 */
function luaLiteral(text: string): string {
  // eslint-disable-next-line no-control-regex -- every ASCII byte but letters and digits, control characters included
  return text.replace(/[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]/g, '%$&');
}
