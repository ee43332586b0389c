import { describe, expect, it } from 'vitest';
import { parseEnv } from '@herald/shared';
import { publisherEnv } from '../../services/publisher/src/config.js';
import { configErrorLines } from '../helpers/config-lines.js';

/** The variables of the limits on slow and wide clients (issue 12). */
describe('limits configuration', () => {
  it('gives the documented defaults', () => {
    expect(parseEnv(publisherEnv, {})).toMatchObject({
      HERALD_BODY_TIMEOUT_MS: 10_000,
      HERALD_MAX_CONNECTIONS: 1000,
      HERALD_MAX_STREAMS: 100,
      HERALD_MAX_STREAMS_PER_KEY: 10,
    });
  });

  it('stops on bad values with one line per variable, naming it and the range', () => {
    const env = {
      HERALD_BODY_TIMEOUT_MS: '10s',
      HERALD_MAX_CONNECTIONS: '0',
      HERALD_MAX_STREAMS: '-1',
      HERALD_MAX_STREAMS_PER_KEY: 'many',
    };
    expect(configErrorLines(publisherEnv, env)).toEqual([
      'HERALD_BODY_TIMEOUT_MS: expected a whole number from 100 to 600000',
      'HERALD_MAX_CONNECTIONS: expected a whole number from 1 to 1000000',
      'HERALD_MAX_STREAMS: expected a whole number from 1 to 10000',
      'HERALD_MAX_STREAMS_PER_KEY: expected a whole number from 1 to 10000',
    ]);
  });
});
