import { BlockList, isIP } from 'node:net';

/**
 * Addresses a push endpoint must not point at unless HERALD_ALLOW_PRIVATE_PUSH is on: a push
 * endpoint is a URL anyone can register, so without this check Herald could be made to send
 * requests into the network it runs in (server-side request forgery).
 */
const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (and cloud metadata at 169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 96], // unspecified, loopback, and IPv4-compatible (::10.0.0.1)
  ['64:ff9b::', 96], // NAT64: reaches the IPv4 address inside through a gateway
  ['64:ff9b:1::', 48], // NAT64, local use
  ['100::', 64], // discard-only
  // Tunnels that carry an IPv4 address inside (a private one, possibly); both are deprecated
  // and no push service is on them, so they are refused whole rather than unpacked.
  ['2001::', 32], // Teredo
  ['2002::', 16], // 6to4 (2002:0a00:0001:: reaches 10.0.0.1 through a relay)
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local: deprecated, but still routed inside some networks
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, bits, 'ipv6');
}

/** True for a private, loopback, link-local or otherwise non-public IP address. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return blocked.check(ip, 'ipv4');
  if (family === 6) {
    const inside = embeddedIPv4(ip);
    if (inside) return blocked.check(inside, 'ipv4');
    return blocked.check(ip, 'ipv6');
  }
  return false;
}

/**
 * The IPv4 address inside an IPv4-mapped (::ffff:10.0.0.1) or IPv4-translated (::ffff:0:10.0.0.1,
 * SIIT) address, in any spelling. Checked as IPv4, not with BlockList rules: Node reads
 * ::ffff:0:0/96 as the IPv4-mapped range and would then block every IPv4 address.
 */
function embeddedIPv4(ip: string): string | undefined {
  const groups = ipv6Groups(ip);
  const prefix = groups.slice(0, 6).join(':');
  if (prefix !== '0:0:0:0:0:65535' && prefix !== '0:0:0:0:65535:0') return undefined;
  return `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
}

/** The eight 16-bit groups of a valid IPv6 address, `::` and a trailing dotted quad expanded. */
function ipv6Groups(ip: string): number[] {
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  const hex = quad
    ? ip.slice(0, quad.index) +
      `${((Number(quad[1]) << 8) | Number(quad[2])).toString(16)}:` +
      `${((Number(quad[3]) << 8) | Number(quad[4])).toString(16)}`
    : ip;
  const [head, tail] = hex.split('::') as [string, string | undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const front = parse(head);
  const back = parse(tail);
  return tail === undefined ? front : [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/**
 * True when a URL's host is, by its name alone, private: an IP literal in a blocked range or a
 * `localhost` name. Names that resolve to private addresses are caught at send time, when the
 * push worker resolves them.
 */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host)) return isPrivateAddress(host);
  return false;
}
