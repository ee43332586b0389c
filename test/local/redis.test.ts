import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { spawnService } from '../helpers/service-process.js';

const stateDir = mkdtempSync(join(tmpdir(), 'herald-state-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm start and Redis', () => {
  it('starts a redis-server of its own with append-only persistence under the state directory, and stops it', async () => {
    const stack = spawnService('services/local/src/main.ts', {
      HERALD_START_REDIS: 'own',
      HERALD_STATE_DIR: stateDir,
      PORT: String(await freePort()),
      HERALD_SHUTDOWN_MS: '3000',
    });
    let port: number;
    try {
      await stack.waitForOutput('Herald is running', 60_000);
      port = Number(/started redis-server on port (\d+)/.exec(stack.output())![1]);
      expect(await answers(port)).toBe(true);
      expect(readdirSync(join(stateDir, 'redis')).some((f) => f.startsWith('appendonly'))).toBe(true);
      expect(existsSync(join(stateDir, 'vapid.json'))).toBe(true);
    } finally {
      stack.child.kill('SIGINT');
    }
    expect(await stack.exited).toBe(0);
    // The Redis it started went with it.
    expect(await answers(port)).toBe(false);
  });

  it('says in one line how to get Redis when there is none', async () => {
    // Only node on PATH: no redis-server to start.
    const bin = mkdtempSync(join(tmpdir(), 'herald-path-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const stack = spawnService('services/local/src/main.ts', {
      HERALD_START_REDIS: 'own',
      HERALD_STATE_DIR: stateDir,
      PATH: bin,
      PORT: String(await freePort()),
    });
    const code = await Promise.race([
      stack.exited,
      new Promise((resolve) => setTimeout(() => resolve('still running'), 20_000)),
    ]);
    if (code === 'still running') stack.child.kill('SIGKILL');
    rmSync(bin, { recursive: true, force: true });
    expect(code).toBe(1);
    const lines = stack.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^No Redis: .*apt-get install redis-server.*REDIS_URL/);
  });
});
