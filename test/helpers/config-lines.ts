import { ConfigError, parseEnv } from '@herald/shared';

/**
 * The lines a service would print when it stops on `env` (one per problem, naming the variable),
 * or none when `env` parses. Anything thrown but a ConfigError is thrown on.
 */
export function configErrorLines(shape: Parameters<typeof parseEnv>[0], env: Record<string, string>): string[] {
  try {
    parseEnv(shape, env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.lines;
    throw err;
  }
}
