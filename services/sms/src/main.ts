import { runWorker } from '@herald/shared';
import { smsEnv } from './config.js';
import { createSmsDriver } from './sms-driver.js';

await runWorker({ channel: 'sms', env: smsEnv, createDriver: createSmsDriver });
