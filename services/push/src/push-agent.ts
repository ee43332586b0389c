import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { DeliveryError, isPrivateAddress } from '@herald/shared';

export interface PushAgentOptions {
  /** Let endpoints resolve to private, loopback or link-local addresses (HERALD_ALLOW_PRIVATE_PUSH; local stand-ins only). */
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
 * dialled again per message). Unless private addresses are allowed, its `lookup` resolves the
 * endpoint's name and refuses with a permanent DeliveryError when any address it got is
 * private: the check is on the addresses the socket then connects to, so a name that resolves
 * differently the second time (DNS rebinding) gains nothing. IP-literal hosts skip `lookup`
 * in Node, so the driver checks those before sending.
 */
export function createPushAgent(options: PushAgentOptions): Agent {
  return new Agent({
    keepAlive: true,
    ...(options.ca ? { ca: [...rootCertificates, ...[options.ca].flat().map(String)] } : {}),
    lookup: options.allowPrivate ? (options.lookup ?? dnsLookup) : publicOnlyLookup(options.lookup ?? dnsLookup),
  });
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A lookup like `resolve` that fails when the name has a private address among its answers. */
function publicOnlyLookup(resolve: typeof dnsLookup) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const refused = addresses.find((a) => isPrivateAddress(a.address));
      if (refused) {
        return callback(
          new DeliveryError(
            'permanent',
            `push endpoint host ${hostname} resolves to the private address ${refused.address}; refused (HERALD_ALLOW_PRIVATE_PUSH is off)`,
          ),
          [],
        );
      }
      const first = addresses[0];
      if (options.all) callback(null, addresses);
      else if (first) callback(null, first.address, first.family);
      else callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    });
  };
}
