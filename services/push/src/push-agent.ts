import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent, type AgentOptions, type RequestOptions } from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { DeliveryError, isPrivateAddress } from '@herald/shared';

export interface PushAgentOptions {
  /**
   * Let endpoints resolve to private, loopback or link-local addresses (HERALD_ALLOW_PRIVATE_PUSH;
   * local stand-ins only).
   */
  allowPrivate: boolean;
  /**
   * Extra certificate authorities to trust besides Node's own (PEM). A worker process uses
   * NODE_EXTRA_CA_CERTS instead; this is for a driver in a process started without it.
   */
  ca?: string | Buffer | undefined;
  /**
   * How names are resolved: Node's dns.lookup unless given (tests give one, since a name that
   * resolves to a private address needs a DNS they control).
   */
  lookup?: typeof dnsLookup | undefined;
}

/**
 * The HTTPS agent every push request goes through (keep-alive, so a busy push service is not
 * dialled again per message). Unless private addresses are allowed, it refuses with a
 * permanent DeliveryError to connect to a private address, checked where the connection is
 * made, whichever URL parser produced the host (web-push uses the legacy url.parse, which can
 * read another host than the WHATWG URL the publisher checked: issue 12):
 * - a host that is an IP literal, before connecting (Node does not call `lookup` for those);
 * - a name, in `lookup`, on every address it resolves to: the socket then connects to those
 *   addresses, so a name that resolves differently the second time (DNS rebinding) gains nothing;
 * - as a last guard, the socket's remote address once connected, before anything is written.
 * A refusal never connects (or writes nothing), so its error cannot tell an open port from a
 * closed one.
 */
export function createPushAgent(options: PushAgentOptions): Agent {
  const agentOptions: AgentOptions = {
    keepAlive: true,
    ...(options.ca ? { ca: [...rootCertificates, ...[options.ca].flat().map(String)] } : {}),
  };
  if (options.allowPrivate) return new Agent({ ...agentOptions, lookup: options.lookup ?? dnsLookup });
  return new PublicOnlyAgent({ ...agentOptions, lookup: publicOnlyLookup(options.lookup ?? dnsLookup) });
}

/** An agent whose connections reach public addresses only (see createPushAgent). */
class PublicOnlyAgent extends Agent {
  override createConnection(
    options: RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = options.host ?? 'localhost';
    const origin =
      `https://${isIP(host) === 6 ? `[${host}]` : host}` +
      `${options.port && Number(options.port) !== 443 ? `:${options.port}` : ''}`;
    if (isIP(host) && isPrivateAddress(host)) {
      const err = refusal(`push endpoint ${origin} is a private address`);
      // Node's agent always passes a callback; a caller without one gets the refusal thrown.
      if (!callback) throw err;
      callback(err, undefined as never);
      return undefined;
    }
    const socket = super.createConnection(options, callback) as Socket;
    // Before the TLS handshake's own 'connect' listener, so that not even a ClientHello goes out.
    socket.prependOnceListener('connect', () => {
      const remote = socket.remoteAddress;
      if (remote === undefined || !isIP(remote) || isPrivateAddress(remote)) {
        socket.destroy(refusal(`push endpoint ${origin} reached an address that is not public`));
      }
    });
    return socket;
  }
}

function refusal(what: string): DeliveryError {
  return new DeliveryError('permanent', `${what}; refused (HERALD_ALLOW_PRIVATE_PUSH is off)`);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A lookup like `resolve` that fails when the name has a private address among its answers. */
function publicOnlyLookup(resolve: typeof dnsLookup) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const refused = addresses.some((a) => isPrivateAddress(a.address));
      // The address itself is not named: the error reaches whoever registered the endpoint, who
      // must not learn the addresses of names inside Herald's network.
      if (refused) return callback(refusal(`push endpoint host ${hostname} resolves to a private address`), []);
      const first = addresses[0];
      if (options.all) callback(null, addresses);
      else if (first) callback(null, first.address, first.family);
      else callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    });
  };
}
