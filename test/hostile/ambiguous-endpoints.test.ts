import { parse as legacyParse } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { usePublisher } from '../helpers/publisher.js';
import { browserKeys, subscribe as subscribeAs } from '../helpers/push-subscriptions.js';

/**
 * Push endpoints whose host two URL parsers read differently (issue 12). web-push sends with
 * the legacy `url.parse`, which ends `https://127.0.0.1;.example.com/x` at the `;` and connects
 * to 127.0.0.1, while the WHATWG `URL` the publisher checked reads one domain name. Such an
 * endpoint is refused at subscribe, with private addresses allowed or not; and whatever the
 * publisher accepts, both parsers read the same host and port (the property). The worker's side
 * is in test/push/endpoint-guard.test.ts.
 */
const ctx = usePublisher({}, { perFile: true });

const keys = browserKeys();
const subscribe = (endpoint: string) => subscribeAs(ctx.pub, 'parsers', endpoint, keys);

/** Characters after which the legacy parser ends an IPv4 host where the WHATWG one goes on. */
const ODD = [';', "'", '"', '{', '}', '`'];

const PROBES = [
  ...ODD.map((c) => `https://127.0.0.1${c}.example.com/subscription-path`),
  // Past 255 characters the legacy parser empties the host, and Node then connects to localhost.
  `https://${'a'.repeat(250)}.example.com/subscription-path`,
];

/** The host and port the legacy parser gives, as the WHATWG parser would spell them. */
function legacyAuthority(endpoint: string): { host: string; port: number } {
  const legacy = legacyParse(endpoint);
  const host = legacy.hostname ?? '';
  // An IPv6 literal comes without brackets and in any spelling: compare the address itself.
  return { host: host.includes(':') ? new URL(`https://[${host}]/`).hostname : host, port: Number(legacy.port || 443) };
}

describe('push endpoints whose host URL parsers read differently', () => {
  it.each(PROBES.map((p) => [p.length > 80 ? `${p.slice(0, 40)}...` : p, p]))(
    'refuses %s at subscribe with 400 naming endpoint, private addresses allowed or not',
    async (_name, endpoint) => {
      for (const allowPrivate of ['false', 'true']) {
        await ctx.restart({ HERALD_ALLOW_PRIVATE_PUSH: allowPrivate });
        const res = await subscribe(endpoint);
        expect(res.statusCode, `${endpoint} with HERALD_ALLOW_PRIVATE_PUSH=${allowPrivate}`).toBe(400);
        const { error } = res.json();
        expect(error.code).toBe('HERALD_ERR_VALIDATION');
        expect(error.issues).toEqual([{ path: 'endpoint', message: expect.stringMatching(/host/) }]);
        expect(await ctx.pub.admin.exists(ctx.pub.keys.pushSubscriptions('parsers'))).toBe(0);
      }
    },
  );

  it('accepts only endpoints whose host and port the WHATWG and the legacy parser read alike', async () => {
    // Private addresses allowed, so that IP literals get as far as the parser check.
    await ctx.restart({ HERALD_ALLOW_PRIVATE_PUSH: 'true' });
    const label = fc.oneof(
      fc.constantFrom(
        'push',
        'example',
        'com',
        'fcm',
        'googleapis',
        'xn--nxasmq6b',
        'xn--zz',
        'a-b',
        '-',
        '0x7f',
        '09',
        '1e',
        'PUSH',
        'a'.repeat(63),
        'a'.repeat(64),
      ),
      fc.stringMatching(/^[a-z0-9-]{1,12}$/),
      fc.integer({ min: 0, max: 300 }).map(String),
    );
    const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((labels) => labels.join('.'));
    const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
    const ipv6 = fc.constantFrom(
      '[::1]',
      '[::ffff:10.0.0.1]',
      '[::0001]',
      '[0:0::1]',
      '[2001:4860:4860::8888]',
      '[::ffff:127.0.0.1',
      '[fe80::1%25eth0]',
      '[::1]]',
    );
    // Anything the legacy parser may end a host at, skip, or read as user info or a port.
    const odd = fc.constantFrom(
      ...ODD,
      '\\',
      '%',
      '%2e',
      '@',
      'user@',
      ':',
      '#',
      '?',
      '/',
      '|',
      '^',
      '<',
      '>',
      ' ',
      '\t',
      '\n',
      '\u0000',
      '.',
      '..',
      '_',
      '~',
      '!',
      '$',
      '&',
      '(',
      '*',
      '+',
      ',',
      '=',
      '[',
      ']',
      'é',
      '\u3002',
      '\uff0e',
    );
    const host = fc.oneof(
      { weight: 6, arbitrary: name },
      { weight: 3, arbitrary: ipv4 },
      { weight: 1, arbitrary: ipv6 },
      {
        weight: 3,
        arbitrary: fc.tuple(fc.oneof(name, ipv4), odd, fc.oneof(name, fc.constant(''))).map((p) => p.join('')),
      },
      { weight: 1, arbitrary: fc.tuple(odd, name).map((p) => p.join('')) },
      { weight: 1, arbitrary: fc.integer({ min: 240, max: 270 }).map((n) => `${'a'.repeat(n)}.com`) },
    );
    /** Mostly `usual`, so that plenty get through; now and then one of `odd`. */
    const mostly = (usual: string, ...others: string[]) =>
      fc.oneof({ weight: 4, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: fc.constantFrom(...others) });
    const port = mostly('', ':443', ':8443', ':0443', ':0', ':', ':65535', ':65536', ':1x', ': 1');
    const scheme = mostly('https://', 'HTTPS://', 'https:/', 'https:///', 'https:\\\\', ' https://');
    const user = mostly('', 'user@', 'user:pass@', '127.0.0.1@', ':@');
    const tail = mostly('/subscription-path', '', '/', '?q=1', '#f', '\\x', ';x', '/a@b/c');

    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(scheme, user, host, port, tail, async (s, u, h, p, t) => {
        const endpoint = `${s}${u}${h}${p}${t}`;
        const res = await subscribe(endpoint);
        if (res.statusCode === 400) {
          expect(
            res.json().error.issues.map((i: { path: string }) => i.path),
            endpoint,
          ).toEqual(['endpoint']);
          return;
        }
        expect([200, 201], `${endpoint}: ${res.body}`).toContain(res.statusCode);
        accepted++;
        const whatwg = new URL(endpoint);
        const legacy = legacyAuthority(endpoint);
        expect(legacy.host, endpoint).not.toBe('');
        expect(legacy, endpoint).toEqual({ host: whatwg.hostname, port: Number(whatwg.port || 443) });
      }),
      { numRuns: 500 },
    );
    // The property says something only if plenty of endpoints got through.
    expect(accepted).toBeGreaterThan(100);
  });
});
