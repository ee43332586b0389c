import { readFileSync, readdirSync } from 'node:fs';
import { luaLayout } from '../layout/lua-layout.js';

/**
 * Reads Herald's Lua scripts from this folder. Each is named `<name>-<keys>.lua`, where `<keys>`
 * is how many keys it takes: a number, `n` (one per item of a batch) or `<k>+n` (k first, then
 * one per item). Each opens with what its KEYS and ARGV are and what it returns.
 *
 * A line `--! include <fragment>` is replaced by `includes/<fragment>.lua`, written once for every
 * script that needs it; `--! include layout` by the layout's names as Lua constants (generated
 * from layout/, see lua-layout.ts), so no script spells a field name or a claim mark itself.
 */
export interface LoadedScript {
  /** The file's name without its key count: `claim-batch`. */
  name: string;
  file: string;
  /** Keys it always takes first; with `perItem`, one more per item follows. */
  fixedKeys: number;
  perItem: boolean;
  /** The script with its includes in place. */
  lua: string;
}

const FOLDER = new URL('./', import.meta.url);
const FILE_NAME = /^([a-z][a-z-]*?)-(\d+|n|\d+\+n)\.lua$/;
const INCLUDE = /^--! include ([a-z-]+)$/gm;

export function loadScript(file: string): LoadedScript {
  const match = FILE_NAME.exec(file);
  if (!match) throw new Error(`script ${file}: expected a name like <name>-<number of keys>.lua`);
  const [, name, keys] = match as unknown as [string, string, string];
  const source = readFileSync(new URL(file, FOLDER), 'utf8');
  const lua = source.replace(INCLUDE, (_, fragment: string) =>
    fragment === 'layout' ? luaLayout() : readFileSync(new URL(`includes/${fragment}.lua`, FOLDER), 'utf8').trimEnd(),
  );
  const perItem = keys.endsWith('n');
  return { name, file, fixedKeys: perItem ? Number(keys.slice(0, -2) || 0) : Number(keys), perItem, lua };
}

/** Every script file in the folder (for the tests that check all of them). */
export function scriptFiles(): string[] {
  return readdirSync(FOLDER)
    .filter((f) => f.endsWith('.lua'))
    .sort();
}
