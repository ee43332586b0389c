/**
 * The one owner of Herald's Redis layout: every key's name (keys.ts) and every record's fields
 * and encoding (the notification record, the user, push subscriptions, dead letters, passes).
 * Lua scripts see the same names through the generated `layout` include (lua-layout.ts).
 */
export * from './keys.js';
export * from './notification-record.js';
export * from './user-record.js';
export * from './push-subscriptions.js';
export * from './dead-letter.js';
export * from './passes.js';
export * from './send-rate.js';
export * from './lua-layout.js';
