import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { emailEnv } from '../../services/email/src/config.js';
import { publisherEnv } from '../../services/publisher/src/config.js';
import { pushEnv } from '../../services/push/src/config.js';
import { smsEnv } from '../../services/sms/src/config.js';
import { ROOT } from '../helpers/service-process.js';

/**
 * No Docker engine runs here, so the compose file is checked by reading it: every service's
 * command, build context and variables must exist in this repository.
 */
interface ComposeService {
  build?: string | { context: string; target?: string };
  command?: string[];
  environment?: Record<string, string>;
  stop_grace_period?: string;
  profiles?: string[];
  user?: string;
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;

/** Variables Node or the stand-ins read, besides each service's own configuration. */
const EXTRA = ['NODE_EXTRA_CA_CERTS'];
const STAND_IN_VARIABLES = [
  'STANDIN_HOST',
  'STANDIN_PUBLIC_HOST',
  'STANDIN_TWILIO_ACCOUNT_SID',
  'STANDIN_TWILIO_AUTH_TOKEN',
  'STANDIN_CA_PATH',
  'VAPID_PUBLIC_KEY',
  'VAPID_PRIVATE_KEY',
];
const KNOWN: Record<string, string[]> = {
  publisher: Object.keys(publisherEnv),
  email: [...Object.keys(emailEnv), ...EXTRA],
  sms: [...Object.keys(smsEnv), ...EXTRA],
  push: [...Object.keys(pushEnv), ...EXTRA],
  'stand-ins': STAND_IN_VARIABLES,
};

describe('docker-compose.yml', () => {
  it('runs every Herald service with node on an entry point that exists, from a build context that exists', () => {
    for (const name of ['publisher', 'email', 'sms', 'push', 'stand-ins']) {
      const service = services[name]!;
      expect(service, name).toBeDefined();
      // Signals must reach the service itself, not an npm wrapper; compiled, with no loader.
      const [node, entry, ...rest] = service.command!;
      expect(node, name).toBe('node');
      expect(rest, name).toEqual([]);
      // The build compiles src/main.ts to dist/main.js (tsconfig.base.json, rootDir src, outDir dist).
      const source = /^services\/([\w-]+)\/dist\/main\.js$/.exec(entry!)?.[1];
      expect(source, `${name}: ${entry}`).toBeDefined();
      expect(existsSync(join(ROOT, 'services', source!, 'src', 'main.ts')), `${name}: ${entry}`).toBe(true);
      const context = typeof service.build === 'string' ? service.build : service.build!.context;
      expect(existsSync(join(ROOT, context, 'Dockerfile')), name).toBe(true);
      const target = typeof service.build === 'string' ? undefined : service.build!.target;
      if (target)
        expect(readFileSync(join(ROOT, context, 'Dockerfile'), 'utf8'), name).toMatch(
          new RegExp(`^FROM \\S+ AS ${target}$`, 'm'),
        );
    }
  });

  it('passes each service only variables it reads', () => {
    for (const [name, known] of Object.entries(KNOWN)) {
      for (const variable of Object.keys(services[name]!.environment ?? {})) {
        expect(known, `${name} does not read ${variable}`).toContain(variable);
      }
    }
  });

  it('gives workers longer to stop than HERALD_SHUTDOWN_MS, keeps them scalable, and runs them unprivileged', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^USER node$/m);
    for (const name of ['publisher', 'email', 'sms', 'push']) {
      const service = services[name]! as ComposeService & { container_name?: string; ports?: string[] };
      const graceS = Number(/^(\d+)s$/.exec(service.stop_grace_period ?? '')?.[1]);
      expect(graceS * 1000, name).toBeGreaterThan(Number(service.environment!.HERALD_SHUTDOWN_MS));
      expect(service.user, name).toBeUndefined();
      if (name !== 'publisher') {
        expect(service.container_name, name).toBeUndefined();
        expect(service.ports, name).toBeUndefined();
      }
    }
    expect(services['stand-ins']!.profiles).toEqual(['local']);
  });

  it('ships no open publisher: API and admin keys are required, so the dashboard always asks for an admin key', () => {
    const env = services.publisher!.environment!;
    expect(env.HOST).toBe('0.0.0.0');
    for (const variable of ['HERALD_API_KEYS', 'HERALD_ADMIN_KEYS']) {
      // `${VAR:?message}`: compose refuses to start without it, rather than default it to empty.
      expect(env[variable], variable).toMatch(new RegExp(`^\\$\\{${variable}:\\?.+\\}$`));
    }
  });

  it('copies into the image only what exists, and deploy/local.env names only known variables', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)) {
      expect(existsSync(join(ROOT, source!)), source).toBe(true);
    }
    const all = new Set(Object.values(KNOWN).flat());
    for (const line of readFileSync(join(ROOT, 'deploy/local.env'), 'utf8').split('\n')) {
      const name = /^([A-Z_]+)=/.exec(line)?.[1];
      if (name) expect(all.has(name), name).toBe(true);
    }
  });
});
