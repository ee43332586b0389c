import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLAIM_MARKS, PASS_COUNTER_FIELD, RECORD_FIELDS, RECORD_FIELD_PREFIXES, STATUS_KEYS } from '@herald/shared';
import { ROOT } from '../helpers/service-process.js';

/**
 * One owner of the Redis layout (shared/src/layout) and a runtime that names no channel: read
 * as text, so a field name or a channel that creeps back into another file fails here.
 */
function sources(folder: string, extension: string): [string, string][] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith(extension))
    .map((file) => [`${folder}/${file}`, readFileSync(join(ROOT, folder, file), 'utf8')]);
}
/** Comments say what a field holds; only code must not spell it. */
const code = (text: string, comment: RegExp) => text.replace(comment, '');

describe('the layout has one owner', () => {
  // Field names and prefixes short and distinctive enough to find as quoted strings ('type' and
  // 'ts' are also the stream entry's own fields, owned by the stream codec).
  const spelled = [
    RECORD_FIELDS.fingerprint,
    RECORD_FIELDS.idempotentUntil,
    RECORD_FIELDS.streamId,
    RECORD_FIELDS.userId,
    ...Object.values(RECORD_FIELD_PREFIXES),
    PASS_COUNTER_FIELD,
  ];

  it('no Lua script spells a record field, a status key or a claim mark: they come from the layout include', () => {
    const marks = Object.values(CLAIM_MARKS);
    const keys = Object.values(STATUS_KEYS);
    for (const [file, text] of sources('shared/src/scripts', '.lua')) {
      const lua = code(text, /--.*$/gm);
      for (const name of [...spelled, ...marks]) expect(lua, `${file} spells '${name}'`).not.toContain(`'${name}'`);
      for (const key of keys) expect(lua, `${file} reads .${key}`).not.toMatch(new RegExp(`\\w\\.${key}\\b`));
    }
  });

  it('no TypeScript outside the layout spells a record field', () => {
    const folders = [
      'client/src',
      'shared/src',
      'services/publisher/src',
      'services/email/src',
      'services/sms/src',
      'services/push/src',
    ];
    for (const folder of folders) {
      for (const [file, text] of sources(folder, '.ts')) {
        if (file.startsWith('shared/src/layout/')) continue;
        const ts = code(text, /\/\/.*$|\/\*[\s\S]*?\*\//gm);
        for (const name of spelled) expect(ts, `${file} spells '${name}'`).not.toContain(`'${name}`);
      }
    }
  });
});

describe('the runtime', () => {
  it('names no channel: what a channel needs of its own goes through its driver', () => {
    for (const [file, text] of sources('shared/src/runtime', '.ts')) {
      const ts = code(text, /\/\/.*$|\/\*[\s\S]*?\*\//gm);
      expect(ts, file).not.toMatch(/'(email|sms|push)'|pushSubscription|subscription/i);
    }
  });
});
