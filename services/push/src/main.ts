import { runWorker } from '@herald/shared';
import { pushEnv } from './config.js';
import { createPushDriver } from './push-driver.js';

await runWorker({ channel: 'push', env: pushEnv, createDriver: createPushDriver });
