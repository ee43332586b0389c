import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { freePort } from '@herald/stand-ins';
import { join } from 'node:path';

export interface LocalRedis {
  url: string;
  /** How it was found, for the banner. */
  how: string;
  /** Stop it, when this process started it. */
  stop(): Promise<void>;
}

/** Thrown when no Redis can be had; its message is the one line to show. */
export class NoRedisError extends Error {
  override readonly name = 'NoRedisError';
}

/** Answers `+PONG` to PING within a moment? */
function answersPing(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/** `preferred` when nothing listens on it, else a free port. */
export function portOrFree(preferred: number): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(freePort()));
    server.listen(preferred, '127.0.0.1', () => server.close(() => resolve(preferred)));
  });
}

/**
 * Redis for the local stack: REDIS_URL when set; else one already listening on
 * 127.0.0.1:6379 (unless HERALD_START_REDIS=own); else a `redis-server` from PATH started on a
 * free port, with append-only persistence under `<stateDir>/redis/` so notifications survive a
 * restart of the stack.
 */
export async function localRedis(
  config: { REDIS_URL?: string | undefined; HERALD_START_REDIS?: 'own' | undefined },
  stateDir: string,
): Promise<LocalRedis> {
  const none = async () => undefined;
  if (config.REDIS_URL) return { url: config.REDIS_URL, how: 'REDIS_URL', stop: none };
  if (config.HERALD_START_REDIS !== 'own' && (await answersPing(6379))) {
    return { url: 'redis://127.0.0.1:6379', how: 'already running on 127.0.0.1:6379', stop: none };
  }
  if (spawnSync('redis-server', ['--version']).error) {
    throw new NoRedisError(
      'No Redis: nothing answers on 127.0.0.1:6379 and redis-server is not on PATH. ' +
        'Install it (Debian/Ubuntu: sudo apt-get install redis-server; ' +
        'macOS: brew install redis) or set REDIS_URL.',
    );
  }
  const dir = join(stateDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) =>
      reject(new NoRedisError(`redis-server stopped at start (exit ${code}): ${output.trim().split('\n').pop()}`)),
    );
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    how: `started redis-server on port ${port}, data in ${dir}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
