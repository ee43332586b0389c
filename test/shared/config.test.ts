import { describe, expect, it } from 'vitest';
import { ConfigError, commonEnv, envBool, envInt, envList, parseEnv } from '@herald/shared';
import { configErrorLines } from '../helpers/config-lines.js';

describe('configuration', () => {
  it('gives documented defaults, frozen', () => {
    const config = parseEnv(commonEnv, {});
    expect(config).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6379',
      HERALD_STREAM: 'user:notifications',
      HERALD_KEY_PREFIX: 'herald:',
      LOG_LEVEL: 'info',
      HERALD_ALLOW_PRIVATE_PUSH: false,
      HERALD_RETENTION_S: 604800,
      HERALD_SHUTDOWN_MS: 10000,
      HERALD_MAX_PUSH_SUBSCRIPTIONS: 20,
    });
    expect(config.VAPID_PUBLIC_KEY).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reports one line per problem, naming the variable', () => {
    const env = {
      REDIS_URL: 'localhost:6379',
      LOG_LEVEL: 'loud',
      HERALD_ALLOW_PRIVATE_PUSH: 'maybe',
      VAPID_PUBLIC_KEY: 'abc',
    };
    expect(configErrorLines(commonEnv, env)).toEqual([
      'REDIS_URL: expected a redis:// or rediss:// URL',
      'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent',
      'HERALD_ALLOW_PRIVATE_PUSH: expected true or false',
      'VAPID_PUBLIC_KEY: expected a base64url P-256 public key (65 bytes decoded)',
    ]);
  });

  it('reads integers, booleans and lists, and treats an empty variable as unset', () => {
    const shape = { N: envInt(5, 1, 10), B: envBool(false), L: envList() };
    expect(parseEnv(shape, { N: '7', B: 'true', L: ' a, b,,c ' })).toEqual({ N: 7, B: true, L: ['a', 'b', 'c'] });
    expect(parseEnv(shape, { N: '', B: '', L: '' })).toEqual({ N: 5, B: false, L: [] });
    expect(() => parseEnv(shape, { N: '11' })).toThrow('N: expected a whole number from 1 to 10');
    expect(() => parseEnv(shape, { N: '1.5' })).toThrow(ConfigError);
  });

  it.each(['0', '1001', '2.5', 'many'])('refuses HERALD_MAX_PUSH_SUBSCRIPTIONS=%s, naming it', (value) => {
    expect(() => parseEnv(commonEnv, { HERALD_MAX_PUSH_SUBSCRIPTIONS: value })).toThrow(
      'HERALD_MAX_PUSH_SUBSCRIPTIONS: expected a whole number from 1 to 1000',
    );
    expect(parseEnv(commonEnv, { HERALD_MAX_PUSH_SUBSCRIPTIONS: '1000' }).HERALD_MAX_PUSH_SUBSCRIPTIONS).toBe(1000);
  });

  it('accepts rediss:// and refuses a stream name with a hash tag of its own', () => {
    expect(parseEnv(commonEnv, { REDIS_URL: 'rediss://user:pw@redis.internal:6380/2' }).REDIS_URL).toBe(
      'rediss://user:pw@redis.internal:6380/2',
    );
    expect(() => parseEnv(commonEnv, { HERALD_STREAM: '{x}stream' })).toThrow(/^HERALD_STREAM: /);
  });
});
