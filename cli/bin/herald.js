#!/usr/bin/env node
// The compiled CLI (`npm run build` makes cli/dist; `npm start` builds it too).
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('herald: the CLI is not built yet; run `npm run build` in the Herald repository first\n');
  process.exit(1);
}
await import(main.href);
