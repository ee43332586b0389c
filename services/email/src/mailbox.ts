import { z } from 'zod';

/** A parsed sender: `Name <address>` or a bare address. */
export interface Mailbox {
  /** The display name, without quotes; absent for a bare address. */
  name?: string;
  address: string;
  /** The address's domain, lower-cased: it names the Message-ID. */
  domain: string;
}

const address = z.email();
const NAME_ADDR = /^(.*?)\s*<([^<>]+)>$/;

/**
 * Parse `alerts@example.com`, `Example Alerts <alerts@example.com>` or
 * `"Example, Inc." <alerts@example.com>`; undefined when it is neither, or when it carries a
 * line break (which could inject a header).
 */
export function parseMailbox(value: string): Mailbox | undefined {
  if (/[\r\n\u2028\u2029]/.test(value)) return undefined;
  const text = value.trim();
  const named = NAME_ADDR.exec(text);
  const addr = (named ? named[2]! : text).trim();
  if (!address.safeParse(addr).success) return undefined;
  const domain = addr.slice(addr.lastIndexOf('@') + 1).toLowerCase();
  const name = named
    ? named[1]!
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .trim()
    : '';
  return name ? { name, address: addr, domain } : { address: addr, domain };
}
