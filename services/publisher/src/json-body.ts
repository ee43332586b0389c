import type { FastifyInstance } from 'fastify';
import { HeraldError } from '@herald/shared';

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body's size in bytes, as received (0 without one). */
    bodyBytes: number;
  }
}

/**
 * JSON bodies are parsed by Fastify's own parser (secure-json-parse, refusing `__proto__` and
 * `constructor.prototype` keys), but its one error says "not valid JSON" whatever was wrong.
 * On that error only, the body is looked at again to say which: where the syntax breaks, or which
 * key was refused. The well-formed path costs nothing more.
 */
export function useExplainedJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.decorateRequest('bodyBytes', 0);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // parseAs: 'string' hands a string; the overload does not narrow it.
    const text = body as string;
    request.bodyBytes = Buffer.byteLength(text);
    // Given a callback, Fastify's parser answers through it and returns nothing; its type also
    // allows the form that returns a promise instead.
    void parseJson(request, text, (err, value) => {
      if ((err as { code?: string } | null)?.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
        done(explainBadJson(text), undefined);
      } else done(err, value);
    });
  });
}

/** Why a body Fastify's parser refused was refused. */
export function explainBadJson(body: string): HeraldError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    return new HeraldError('HERALD_ERR_BAD_JSON', `The request body is not valid JSON: ${(e as Error).message}`);
  }
  const path = findRefusedKey(parsed);
  if (path === undefined) return new HeraldError('HERALD_ERR_BAD_JSON');
  return new HeraldError('HERALD_ERR_VALIDATION', `The request body holds the key ${path.at(-1)}, which is refused`, [
    {
      path: path.join('.'),
      message:
        'A "__proto__" key, or a "prototype" key inside "constructor", is refused: ' +
        'it could alter objects the server builds from the body',
    },
  ]);
}

/** A key on the way down: the path is built only for the key that is reported. */
interface Step {
  key: string;
  parent: Step | undefined;
}

/** Path to a key secure-json-parse refuses; iterative, since the nesting may be deep. */
function findRefusedKey(root: unknown): string[] | undefined {
  const stack: [unknown, Step | undefined][] = [[root, undefined]];
  while (stack.length > 0) {
    const [node, at] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    for (const [key, value] of Object.entries(node) as [string, unknown][]) {
      const step = { key, parent: at };
      if (key === '__proto__') return pathOf(step);
      if (key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype')) {
        return pathOf({ key: 'prototype', parent: step });
      }
      stack.push([value, step]);
    }
  }
  return undefined;
}

/** Built leaf first and reversed: unshift per level would be quadratic in a body nested 500000 deep. */
function pathOf(step: Step): string[] {
  const path: string[] = [];
  for (let s: Step | undefined = step; s; s = s.parent) path.push(s.key);
  return path.reverse();
}
