// tsc compiles only TypeScript: every other file under a workspace's src/ (Lua scripts, the
// dashboard's and the push demo's pages and browser scripts) is copied to the same place under
// dist/, where the compiled code reads it next to itself.
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const WORKSPACES = ['client', 'shared', 'cli', ...readdirSync('services').map((s) => join('services', s))];

for (const workspace of WORKSPACES) {
  const src = join(workspace, 'src');
  if (!existsSync(src)) continue;
  cpSync(src, join(workspace, 'dist'), {
    recursive: true,
    filter: (path) => !/\.ts$/.test(path),
  });
}
