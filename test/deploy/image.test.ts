import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { ROOT, spawnNode, type ServiceProcess } from '../helpers/service-process.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * No Docker engine runs here, so this does what the Dockerfile does: it builds the tree, makes
 * the production-only install of its deps stage in a folder of its own (the same `npm ci` line,
 * read from the Dockerfile), copies what its final stage copies, and starts every entry point
 * that the Dockerfile and docker-compose name with plain `node`: each must reach its /healthz.
 */
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = dockerfile.split(/^(?=FROM )/m);
/** The stages that copy the manifests and install the services' production dependencies, and the image's own stage. */
const manifestsStage = stages.find((s) => /^FROM \S+ AS manifests$/m.test(s))!;
const depsStage = stages.find((s) => /^FROM manifests AS deps$/m.test(s))!;
const imageStage = stages.find((s) => /^FROM \S+$/m.test(s))!;
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { command?: string[]; image?: string }>;
};

let image: string;
let redis: TestRedis;
const running: ServiceProcess[] = [];

beforeAll(async () => {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'pipe' });
  image = mkdtempSync(join(tmpdir(), 'herald-image-'));
  // The manifests, then the deps stage's npm ci (from the npm cache when it can).
  for (const [, from, to] of manifestsStage.matchAll(/^COPY (\S+(?: \S+)*) (\S+)$/gm)) {
    for (const file of from!.split(' ')) copy(file, to!.endsWith('/') ? join(to!, file.split('/').pop()!) : to!);
  }
  const install = /^RUN (npm ci .*)$/m.exec(depsStage)![1]!.split(' ');
  execFileSync(install[0]!, [...install.slice(1), '--prefer-offline'], { cwd: image, stdio: 'pipe' });
  // The image stage keeps node_modules and package.json from there, and copies the rest from the build.
  for (const [, from, to] of imageStage.matchAll(/^COPY --from=build \/app\/(\S+) (\S+)$/gm)) copy(from!, to!);
  redis = await startRedis();
}, 180_000);

afterAll(async () => {
  for (const service of running) service.child.kill('SIGKILL');
  await redis?.destroy();
  if (image) rmSync(image, { recursive: true, force: true });
});

function copy(from: string, to: string): void {
  mkdirSync(dirname(join(image, to)), { recursive: true });
  cpSync(join(ROOT, from), join(image, to), { recursive: true });
}

/** What each entry point needs to start: a port for /healthz, and no provider (a dry run). */
async function start(entry: string): Promise<number> {
  const port = await freePort();
  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    NODE_ENV: 'production',
    ...(entry.includes('/publisher/')
      ? { PORT: String(port) }
      : { HERALD_METRICS_PORT: String(port), HERALD_DRY_RUN: 'true' }),
  };
  const service = spawnNode([entry], env, image);
  running.push(service);
  return port;
}

describe('the image', () => {
  it('holds production dependencies only: no stand-ins, no local stack, no TypeScript, tsx or test tools', () => {
    for (const name of [
      'tsx',
      'typescript',
      'vitest',
      'smtp-server',
      'mailparser',
      'selfsigned',
      'commander',
      'fast-check',
    ]) {
      expect(existsSync(join(image, 'node_modules', name)), name).toBe(false);
    }
    for (const folder of ['services/stand-ins', 'services/local', 'cli', 'bench', 'test']) {
      expect(existsSync(join(image, folder, 'dist')) || existsSync(join(image, folder, 'src')), folder).toBe(false);
    }
    for (const service of ['publisher', 'email', 'sms', 'push'])
      expect(existsSync(join(image, 'services', service, 'src')), service).toBe(false);
  });

  it('starts every entry point the Dockerfile and docker-compose name, with node and no loader, up to /healthz', async () => {
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(imageStage)![1]!) as string[];
    const entries = new Set([cmd.slice(1).join(' ')]);
    for (const service of Object.values(compose.services)) {
      if (service.image === 'herald' && service.command) entries.add(service.command.slice(1).join(' '));
    }
    expect([...entries].sort()).toEqual(['email', 'publisher', 'push', 'sms'].map((s) => `services/${s}/dist/main.js`));
    const ports = await Promise.all([...entries].map((entry) => start(entry)));
    await Promise.all(
      ports.map((port, i) =>
        waitFor(
          async () => {
            if (running[i]!.child.exitCode !== null)
              throw new Error(`${[...entries][i]} exited:\n${running[i]!.output()}`);
            return (
              (await fetch(`http://127.0.0.1:${port}/healthz`).then(
                (r) => r.ok,
                () => false,
              )) || undefined
            );
          },
          { timeoutMs: 20_000, what: `${[...entries][i]} to answer /healthz` },
        ),
      ),
    );
  }, 60_000);
});
