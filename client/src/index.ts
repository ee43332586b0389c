/**
 * @herald/client: Herald's wire contract and typed HTTP client, for upstream apps and the CLI.
 * The notification, user and push-subscription schemas, the error registry, the API's views,
 * and HeraldClient; nothing that needs Redis, a logger or metrics.
 */
export * from './glossary.js';
export * from './errors.js';
export * from './validation.js';
export * from './notification.js';
export * from './user.js';
export * from './push-subscription.js';
export * from './views.js';
export * from './client.js';
