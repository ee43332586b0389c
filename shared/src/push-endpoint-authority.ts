import { BlockList, isIPv6 } from 'node:net';

/**
 * The authority of a push endpoint as written: `https://`, a host, an optional port, then `/`
 * or the end. The host is a name of letters, digits, dots and hyphens, or a bracketed IPv6
 * address; the port has no leading zero. No user info, no other character: each one the
 * legacy `url.parse` treats otherwise than the WHATWG `URL` is a way for a host to mean two
 * things (issue 12).
 */
const AUTHORITY =
  /^https:\/\/(?:(?<name>[A-Za-z0-9.-]+)|\[(?<ipv6>[0-9A-Fa-f:.]+)\])(?::(?<port>[1-9][0-9]{0,4}))?(?:\/|$)/i;

/**
 * Longest host name: what DNS allows. The legacy parser empties a host longer than 255
 * characters, and Node then connects to `localhost`.
 */
const MAX_NAME_LENGTH = 253;

/** What a push endpoint that fails `isUnambiguousPushEndpoint` is told, for an API answer. */
export const AMBIGUOUS_ENDPOINT_MESSAGE =
  'must be https:// followed by a host of letters, digits, dots and hyphens (or a bracketed IPv6 address), ' +
  'an optional :port, then / or the end, with no user info (so that every URL parser reads the same host)';

/**
 * Whether a push endpoint's host and port read the same to every URL parser that may handle
 * it. The publisher checks the WHATWG `URL`'s reading; web-push connects where the legacy
 * `url.parse` points, and they disagree on `https://127.0.0.1;.example.com/x` (the legacy one
 * ends the host at `;`, the WHATWG one reads a domain name). An endpoint passes when its
 * authority has the strict form above and the WHATWG host and port are that same host and
 * port: lower-cased (both parsers lower-case a name), the same IPv6 address in any spelling,
 * 443 when no port is written. IPv4 spellings that WHATWG rewrites (`127.1`, `0x7f000001`,
 * `1.2.3`) fail, since the legacy parser keeps them as they are.
 */
export function isUnambiguousPushEndpoint(endpoint: string): boolean {
  const groups = AUTHORITY.exec(endpoint)?.groups;
  if (!groups) return false;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  const port = Number(groups.port ?? 443);
  if (port !== Number(url.port || 443)) return false;
  const { name, ipv6 } = groups;
  if (name !== undefined) return name.length <= MAX_NAME_LENGTH && url.hostname === name.toLowerCase();
  return (
    ipv6 !== undefined && isIPv6(ipv6) && url.hostname.startsWith('[') && sameIPv6(ipv6, url.hostname.slice(1, -1))
  );
}

/** Two valid IPv6 addresses are one address, however each is spelled. */
function sameIPv6(a: string, b: string): boolean {
  const list = new BlockList();
  list.addAddress(a, 'ipv6');
  return list.check(b, 'ipv6');
}
