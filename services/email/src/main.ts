import { runWorker } from '@herald/shared';
import { emailEnv } from './config.js';
import { createEmailDriver } from './email-driver.js';

await runWorker({ channel: 'email', env: emailEnv, createDriver: createEmailDriver });
