import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/service-process.js';

/** Each package pulls in only what its audience uses. */
function importsOf(folder: string): Set<string> {
  const specifiers = new Set<string>();
  for (const file of readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue;
    const text = readFileSync(join(ROOT, folder, file), 'utf8');
    for (const [, specifier] of text.matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)) specifiers.add(specifier!);
  }
  return specifiers;
}
const manifest = (folder: string) =>
  JSON.parse(readFileSync(join(ROOT, folder, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };

describe('packages by audience', () => {
  it('@herald/client needs nothing of Redis, logging or metrics: zod and its own files', () => {
    expect(Object.keys(manifest('client').dependencies ?? {})).toEqual(['zod']);
    const foreign = [...importsOf('client/src')].filter(
      (s) => !s.startsWith('./') && s !== 'zod' && !s.startsWith('node:'),
    );
    expect(foreign).toEqual([]);
  });

  it('the CLI depends on the client alone', () => {
    expect(Object.keys(manifest('cli').dependencies ?? {}).sort()).toEqual(['@herald/client', 'commander']);
    expect([...importsOf('cli/src')].filter((s) => s.startsWith('@herald/'))).toEqual(['@herald/client']);
  });

  it('no product package carries the helpers of tests and the local stack', () => {
    for (const folder of [
      'client/src',
      'shared/src',
      'services/publisher/src',
      'services/email/src',
      'services/sms/src',
      'services/push/src',
    ]) {
      expect(
        [...importsOf(folder)].filter((s) => s.startsWith('@herald/stand-ins') || s.startsWith('@herald/local')),
        folder,
      ).toEqual([]);
    }
  });
});
