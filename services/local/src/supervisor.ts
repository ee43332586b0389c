import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { formatLogLine } from './log-format.js';

/**
 * How a service is started: compiled (`node services/<service>/dist/main.js`) when this stack runs
 * compiled, which is how `npm start` runs it; from the TypeScript sources through tsx when the
 * stack itself runs from them (tests, `npm run dev`).
 */
const FROM_SOURCES = import.meta.url.endsWith('.ts');

export function serviceCommand(service: string): string[] {
  return FROM_SOURCES
    ? ['--conditions=development', '--import', 'tsx', `services/${service}/src/main.ts`]
    : [`services/${service}/dist/main.js`];
}

interface Service {
  name: string;
  /** The folder under services/: publisher, email, sms, push. */
  service: string;
  env: NodeJS.ProcessEnv;
  child?: ChildProcess;
  restarts: number;
  startedAt: number;
  timer?: NodeJS.Timeout;
}

/**
 * Runs the stack's services as child processes of their own (see serviceCommand), with
 * each line of their output prefixed by the service's name. A service that exits while the stack
 * is running is reported and started again after 1, 2, 4 ... up to 30 s (back to 1 s once it
 * has stayed up a minute). `stopAll` sends SIGTERM, waits, and kills what is left: no process
 * stays behind.
 */
export class Supervisor {
  private readonly services: Service[] = [];
  private stopping = false;

  constructor(
    private readonly cwd: string,
    private readonly write: (line: string) => void,
  ) {}

  start(name: string, serviceName: string, env: NodeJS.ProcessEnv): void {
    const service: Service = { name, service: serviceName, env, restarts: 0, startedAt: 0 };
    this.services.push(service);
    this.spawn(service);
  }

  private spawn(service: Service): void {
    service.startedAt = Date.now();
    // A process group of its own: the terminal's Ctrl+C reaches only this supervisor, which
    // then stops every service in order.
    const child = spawn(process.execPath, serviceCommand(service.service), {
      cwd: this.cwd,
      env: service.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    service.child = child;
    const prefix = `[${service.name}]`.padEnd(12);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => this.write(`${prefix} ${formatLogLine(line)}`));
    }
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (Date.now() - service.startedAt > 60_000) service.restarts = 0;
      const delay = Math.min(30_000, 1000 * 2 ** service.restarts++);
      this.write(`${prefix} exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000} s`);
      service.timer = setTimeout(() => {
        if (!this.stopping) this.spawn(service);
      }, delay);
    });
  }

  /** The process ids running now, by service name. */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.services.map((s) => [s.name, s.child?.exitCode === null ? s.child.pid : undefined]));
  }

  async stopAll(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const running = this.services.filter((s) => s.child && s.child.exitCode === null && s.child.signalCode === null);
    for (const s of this.services) clearTimeout(s.timer);
    await Promise.all(
      running.map(
        (s) =>
          new Promise<void>((resolve) => {
            const child = s.child!;
            const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}
