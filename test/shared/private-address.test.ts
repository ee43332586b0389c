import { describe, expect, it } from 'vitest';
import { isPrivateAddress, isPrivateHost } from '@herald/shared';

describe('private addresses', () => {
  it.each(['::a00:1', '64:ff9b::a00:1', '64:ff9b::7f00:1', '::ffff:192.168.1.1', '100.64.0.1', '0.0.0.0'])(
    'refuses %s, which reaches a private IPv4 address or no public host',
    (ip) => expect(isPrivateAddress(ip)).toBe(true),
  );

  it('lets public addresses and names through (names are checked again when resolved at send time)', () => {
    expect(isPrivateAddress('2606:4700::1111')).toBe(false);
    expect(isPrivateHost('[::10.0.0.1]')).toBe(true);
    expect(isPrivateHost('fcm.googleapis.com')).toBe(false);
  });
});
