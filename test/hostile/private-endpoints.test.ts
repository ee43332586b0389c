import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { usePublisher } from '../helpers/publisher.js';
import { browserKeys, subscribe as subscribeAs } from '../helpers/push-subscriptions.js';

/**
 * Property: a push subscription naming a private, loopback or link-local address is refused
 * with 400 naming `endpoint`, in whatever spelling the URL parser accepts (decimal, hex, octal,
 * short forms, IPv4-mapped IPv6, upper case, trailing dot, a port, user info), and nothing is
 * stored; public addresses are accepted. Names that resolve to private addresses are refused
 * at send time (test/push/driver.test.ts).
 */
const ctx = usePublisher({}, { perFile: true });

const keys = browserKeys();
const subscribe = (endpoint: string) => subscribeAs(ctx.pub, 'ssrf', endpoint, keys);

const byte = fc.integer({ min: 0, max: 255 });

/** IPv4 addresses of the blocked ranges, as four numbers. */
const privateIPv4 = fc.oneof(
  fc.tuple(fc.constant(10), byte, byte, byte),
  fc.tuple(fc.constant(127), byte, byte, byte),
  fc.tuple(fc.constant(172), fc.integer({ min: 16, max: 31 }), byte, byte),
  fc.tuple(fc.constant(192), fc.constant(168), byte, byte),
  fc.tuple(fc.constant(169), fc.constant(254), byte, byte),
  fc.tuple(fc.constant(0), byte, byte, byte),
  fc.tuple(fc.constant(100), fc.integer({ min: 64, max: 127 }), byte, byte),
);

/** The spellings of an IPv4 address that WHATWG URL parsing turns back into it. */
function ipv4Spellings([a, b, c, d]: number[]): string[] {
  const n = ((a! << 24) >>> 0) + (b! << 16) + (c! << 8) + d!;
  const hex = (x: number) => x.toString(16).padStart(2, '0');
  return [
    `${a}.${b}.${c}.${d}`,
    String(n),
    `0x${n.toString(16)}`,
    `0${a!.toString(8)}.0${b!.toString(8)}.0${c!.toString(8)}.0${d!.toString(8)}`,
    `${a}.${(b! << 16) + (c! << 8) + d!}`,
    `${a}.${b}.${(c! << 8) + d!}`,
    `${a}.${b}.${c}.${d}.`,
    `[::ffff:${a}.${b}.${c}.${d}]`,
    `[::FFFF:${hex(a!)}${hex(b!)}:${hex(c!)}${hex(d!)}]`,
    `[0:0:0:0:0:ffff:${a}.${b}.${c}.${d}]`,
  ];
}

/** IPv6 addresses of the blocked ranges: loopback, unspecified, link-local, unique local. */
const privateIPv6 = fc.oneof(
  fc.constantFrom(
    '::1',
    '::',
    '0:0:0:0:0:0:0:1',
    '0000::0001',
    'fe80::1',
    'FE80::abcd',
    'febf:ffff::1',
    'fc00::1',
    'fd12:3456::1',
    'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  ),
  fc
    .tuple(fc.integer({ min: 0xfe80, max: 0xfebf }), fc.integer({ min: 0, max: 0xffff }))
    .map(([p, s]) => `${p.toString(16)}::${s.toString(16)}`),
  fc
    .tuple(fc.integer({ min: 0xfc00, max: 0xfdff }), fc.integer({ min: 0, max: 0xffff }))
    .map(([p, s]) => `${p.toString(16)}:${s.toString(16)}::1`),
);

/** A URL around a host: a port, user info, a path, upper-case scheme. */
const around = fc.record({
  port: fc.constantFrom('', ':443', ':8443', ':1'),
  user: fc.constantFrom('', 'user@', 'user:pass@', 'push.example.com@'),
  scheme: fc.constantFrom('https', 'HTTPS', 'hTTps'),
  path: fc.constantFrom('/x', '/', '/push/abc?x=1', ''),
});

describe('push subscription endpoints on private addresses', () => {
  it('are refused with 400 naming endpoint in every spelling of the address, and nothing is stored', async () => {
    const host = fc.oneof(
      privateIPv4.chain((ip) => fc.constantFrom(...ipv4Spellings(ip))),
      privateIPv6.map((ip) => `[${ip}]`),
      fc.constantFrom('localhost', 'LOCALHOST', 'localhost.', 'api.localhost', 'x.y.localhost'),
    );
    await fc.assert(
      fc.asyncProperty(host, around, async (hostname, { port, user, scheme, path }) => {
        const endpoint = `${scheme}://${user}${hostname}${port}${path}`;
        // A valid https URL, so it is refused for where it points, not for its syntax.
        expect(new URL(endpoint).protocol, endpoint).toBe('https:');
        const res = await subscribe(endpoint);
        expect(res.statusCode, endpoint).toBe(400);
        const { error } = res.json();
        expect(error.code, endpoint).toBe('HERALD_ERR_VALIDATION');
        expect(error.issues, endpoint).toEqual([
          { path: 'endpoint', message: expect.stringContaining('HERALD_ALLOW_PRIVATE_PUSH') },
        ]);
      }),
      { numRuns: 300 },
    );
    expect(await ctx.pub.admin.exists(ctx.pub.keys.pushSubscriptions('ssrf'))).toBe(0);
  });

  it('an IPv6 zone id is no way around it: such a URL does not parse', async () => {
    const res = await subscribe('https://[fe80::1%25eth0]/x');
    expect(res.statusCode).toBe(400);
    expect(res.json().error.issues.map((i: { path: string }) => i.path)).toEqual(['endpoint']);
  });

  it('public addresses next to the blocked ranges are accepted', async () => {
    const publicIPv4 = fc.oneof(
      fc.tuple(fc.constant(172), fc.integer({ min: 32, max: 255 }), byte, byte),
      fc.tuple(fc.constantFrom(9, 11, 126, 128, 168, 170, 191), byte, byte, byte),
      fc.tuple(fc.constant(192), fc.constant(169), byte, byte),
      fc.tuple(fc.constant(169), fc.constant(255), byte, byte),
      fc.tuple(fc.constant(100), fc.integer({ min: 128, max: 255 }), byte, byte),
    );
    await fc.assert(
      fc.asyncProperty(publicIPv4, async ([a, b, c, d]) => {
        const endpoint = `https://${a}.${b}.${c}.${d}/push/x`;
        const res = await subscribe(endpoint);
        expect([200, 201], endpoint).toContain(res.statusCode);
      }),
      { numRuns: 100 },
    );
  });
});
