import { describe, expect, it } from 'vitest';
import { isPrivateAddress, isPrivateHost } from '@herald/shared';

describe('private addresses', () => {
  it.each([
    '::a00:1',
    '64:ff9b::a00:1',
    '64:ff9b::7f00:1',
    '::ffff:192.168.1.1',
    '::ffff:a00:1',
    '100.64.0.1',
    '0.0.0.0',
    // IPv4-mapped in full, IPv4-translated and 6to4 forms of 10.0.0.1 and 127.0.0.1; any Teredo
    // address (RFC 4380's example); the discard prefix; documentation.
    '0:0:0:0:0:ffff:10.0.0.1',
    '::ffff:0:a00:1',
    '::ffff:0:127.0.0.1',
    '2002:a00:1::1',
    '2002:7f00:1::',
    '2001:0:4136:e378:8000:63bf:f5ff:fffe',
    '100::1',
    '2001:db8::1',
    // Site-local (deprecated), unique local, link-local and loopback.
    'fec0::1',
    'feff::1',
    'fd12:3456::1',
    'fe80::1',
    '::1',
  ])('refuses %s, which reaches a private IPv4 address or no public host', (ip) =>
    expect(isPrivateAddress(ip)).toBe(true),
  );

  it('lets public addresses and names through (names are checked again when resolved at send time)', () => {
    expect(isPrivateAddress('2606:4700::1111')).toBe(false);
    // The IPv4-translated form of a public address is public: only the address inside counts.
    expect(isPrivateAddress('::ffff:0:808:808')).toBe(false);
    expect(isPrivateAddress('::ffff:0:8.8.8.8')).toBe(false);
    expect(isPrivateAddress('::ffff:8.8.8.8')).toBe(false);
    expect(isPrivateAddress('8.8.8.8')).toBe(false);
    expect(isPrivateHost('[::10.0.0.1]')).toBe(true);
    expect(isPrivateHost('fcm.googleapis.com')).toBe(false);
  });
});
