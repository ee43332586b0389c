import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A service's entry point running as a real process, as `npm start` would run it. */
export interface ServiceProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Wait until the output contains `text` (or matches it). */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** A service from its TypeScript sources, through tsx, as tests run them. */
export function spawnService(entry: string, env: Record<string, string>): ServiceProcess {
  return spawnNode(['--conditions=development', '--import', 'tsx', entry], env, ROOT);
}

/** `node <args>` in `cwd`, with only PATH, HOME and `env` in its environment. */
export function spawnNode(args: string[], env: Record<string, string>, cwd: string): ServiceProcess {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    async waitForOutput(text, timeoutMs = 20_000) {
      await waitFor(
        () => (typeof text === 'string' ? output.includes(text) : text.test(output)) || child.exitCode !== null,
        {
          timeoutMs,
          what: `output ${String(text)}`,
        },
      );
      if (!(typeof text === 'string' ? output.includes(text) : text.test(output))) {
        throw new Error(`process exited with ${child.exitCode} before printing ${String(text)}:\n${output}`);
      }
    },
    exited,
  };
}
