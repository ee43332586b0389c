import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { spawnService, type ServiceProcess } from '../helpers/service-process.js';
import { waitFor } from '../helpers/wait-for.js';

let redisServer: TestRedis;
let stack: ServiceProcess;
let port: number;

/** Child processes of `pid` (the services the local stack runs). */
function children(pid: number): { pid: number; command: string }[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [p, ...rest] = line.trim().split(/\s+/);
        return { pid: Number(p), command: rest.join(' ') };
      });
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  redisServer = await startRedis();
  port = await freePort();
  stack = spawnService('services/local/src/main.ts', {
    REDIS_URL: redisServer.url,
    PORT: String(port),
    HERALD_REPLICAS_SMS: '2',
    HERALD_SHUTDOWN_MS: '3000',
  });
  await stack.waitForOutput('Herald is running', 60_000);
}, 90_000);
afterAll(async () => {
  if (stack.child.exitCode === null) {
    stack.child.kill('SIGKILL');
    for (const c of children(stack.child.pid!)) process.kill(c.pid, 'SIGKILL');
  }
  await redisServer.destroy();
});

describe('npm start: the whole system on one machine', () => {
  it('prints a banner with a curl that reaches email, SMS and push through the stand-ins', async () => {
    const banner = stack.output();
    expect(banner).toContain(`http://127.0.0.1:${port}`);
    expect(banner).toContain(redisServer.url);
    const curl = /curl -s -X POST (\S+) .* -d '(.+)'/.exec(banner)!;
    const res = await fetch(curl[1]!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: curl[2]!,
    });
    expect(res.status).toBe(202);
    await stack.waitForOutput('[email] to demo@herald.localhost');
    await stack.waitForOutput('[sms]   to +15555550100');
    await stack.waitForOutput(/\[push\] .*decrypted: \{.*"title":"Hello"/);
    // The dashboard shows what the stand-ins received (no keys: open on loopback).
    const outbox = (await (await fetch(`http://127.0.0.1:${port}/dashboard/outbox`)).json()) as {
      available: boolean;
      emails: unknown[];
      pushes: { payload: string }[];
    };
    expect(outbox.available).toBe(true);
    expect(outbox.emails[0]).toMatchObject({ to: ['demo@herald.localhost'], subject: 'Hello' });
    expect(outbox.pushes[0]!.payload).toContain('"title":"Hello"');
    // Each service's lines carry its name; two SMS replicas run.
    expect(stack.output()).toMatch(/\[sms-2\] +info sms worker started/);
  });

  it('reports a crashed service and starts it again', async () => {
    const email = children(stack.child.pid!).find((c) => c.command.includes('services/email/src/main.ts'))!;
    expect(email).toBeDefined();
    const startsBefore = stack.output().split('email worker started').length;
    process.kill(email.pid, 'SIGKILL');
    await stack.waitForOutput(/\[email-1\] +exited \(SIGKILL\); restarting/);
    await waitFor(() => stack.output().split('email worker started').length > startsBefore, {
      timeoutMs: 20_000,
      what: 'the email worker to start again',
    });
  });

  it('stops everything on Ctrl+C and leaves no process behind', async () => {
    // The services (tsx's own esbuild helper, also a child, goes with its parent by itself).
    const services = children(stack.child.pid!).filter((c) => c.command.includes('services/'));
    expect(services.length).toBe(5); // publisher, email, 2 × sms, push
    stack.child.kill('SIGINT');
    expect(await stack.exited).toBe(0);
    expect(stack.output()).toContain('stopped');
    for (const s of services) expect(alive(s.pid), s.command).toBe(false);
  });
});

describe('npm start with a bad setting', () => {
  it('stops at once, naming each variable that is wrong, and starts nothing', async () => {
    const bad = spawnService('services/local/src/main.ts', {
      HERALD_REPLICAS_SMS: '0',
      HERALD_START_REDIS: 'yes',
      PORT: 'x',
    });
    expect(await bad.exited).toBe(1);
    const output = bad.output();
    expect(output).toMatch(/^HERALD_REPLICAS_SMS: /m);
    expect(output).toMatch(/^HERALD_START_REDIS: expected own/m);
    expect(output).toMatch(/^PORT: /m);
    expect(output).not.toContain('Herald is running');
  });
});
