import { defineConfig } from 'vitest/config';

/**
 * `npm run test:chaos`: the chaos scenarios of issue 7 (test/chaos/*.chaos.ts), kept out of
 * `npm test` (its include only matches *.test.ts). Each scenario runs several worker processes, a
 * redis-server and the stand-ins at full tilt, so files run one at a time: the CI machines have
 * two cores, and two scenarios side by side would measure each other.
 */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    pool: 'forks',
    fileParallelism: false,
    // Scenarios take one to three minutes each; the limits leave room on a busy machine.
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
