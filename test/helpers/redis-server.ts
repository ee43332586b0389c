import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/** A real redis-server of a test's own, on a free port with its own directory. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Stop the server (SIGTERM; with persistence it writes its files first). */
  stop(): Promise<void>;
  /** Start it again on the same port and directory. */
  start(): Promise<void>;
  /** Send a signal to the running server (SIGSTOP to make it hang, SIGCONT to resume). */
  signal(signal: NodeJS.Signals): void;
  /** Kill the server with SIGKILL (no chance to write anything more) and wait until it is gone. */
  crash(): Promise<void>;
  /** Stop it and remove its directory. */
  destroy(): Promise<void>;
}

export interface TestRedisOptions {
  /** Extra redis-server arguments, e.g. ['--appendonly', 'yes']. */
  args?: string[];
}

export async function startRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'herald-redis-'));
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        ...(options.args ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          proc.stdout.off('data', onData);
          proc.stdout.resume();
          resolve();
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
      proc.once('error', reject);
    });
  }

  async function stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGCONT'); // a paused server cannot act on SIGTERM
      proc.kill(signal);
    });
  }

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop: () => stop(),
    start,
    crash: () => stop('SIGKILL'),
    signal(sig) {
      child?.kill(sig);
    },
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
