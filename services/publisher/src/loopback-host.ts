import { BlockList, isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HeraldError } from '@herald/shared';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/**
 * True for a host only this machine can reach: `localhost` and the names under it (RFC 6761),
 * 127.0.0.0/8 and ::1 in any spelling, with or without a port: a Host header (`[::1]:3000`,
 * `localhost:3000`) or the HOST setting (`::1`).
 */
export function isLoopbackHost(host: string): boolean {
  let name = host.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(name);
  if (bracketed) name = bracketed[1]!;
  else if (isIP(name) !== 6) name = name.replace(/:\d{1,5}$/, '');
  // `localhost.` is the same name, written as absolute.
  if (name.endsWith('.')) name = name.slice(0, -1);
  const family = isIP(name);
  if (family !== 0) return LOOPBACK.check(name, family === 4 ? 'ipv4' : 'ipv6');
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * An onRequest hook for a publisher without keys (issue 12): it serves only on a loopback HOST,
 * yet a web page open in a browser on this machine can still reach it through DNS rebinding (a
 * name of the page's own, resolved to 127.0.0.1), and would find every route open. The browser
 * sends that name in Host, so a Host that is not a loopback name or address is refused. HTTP/1.0
 * may come without Host (no browser sends that); HTTP/1.1 without one is refused by the auth hook.
 */
export function refuseForeignHost(request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
  const host = request.headers.host;
  // A callback hook, not an async one: it runs on every request, and a promise each costs more than the check.
  if (host === undefined || isLoopbackHost(host)) return done();
  const shown = host.length > 100 ? `${host.slice(0, 99)}…` : host;
  done(
    new HeraldError(
      'HERALD_ERR_FORBIDDEN',
      `Host ${JSON.stringify(shown)} is not this machine: with no API key set, the publisher answers only requests ` +
        'addressed to localhost, 127.0.0.1 or [::1], so that no web page can reach it through DNS rebinding; ' +
        'use http://127.0.0.1:<port>, or set HERALD_API_KEYS',
    ),
  );
}
