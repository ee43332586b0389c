import type { Notification } from '@herald/shared';
import type { Mailbox } from './mailbox.js';

/** The header that carries the notification id on every mail. */
export const NOTIFICATION_ID_HEADER = 'X-Herald-Notification-Id';

/** One mail, in the shape nodemailer's `sendMail` takes. */
export interface EmailMessage {
  from: { name: string; address: string } | string;
  to: string;
  subject: string;
  text: string;
  /** `<id@domain>`, angle brackets included. */
  messageId: string;
  headers: Record<string, string>;
}

/**
 * The mail for one notification: subject = title, else the type; text = body, then the url on
 * a line of its own after a blank line. The Message-ID is derived from the notification id, so
 * a retry or a replay is recognisably the same mail to whoever receives it twice. Pure.
 */
export function renderEmail(n: Notification, to: string, from: Mailbox): EmailMessage {
  const subject = oneLine(n.payload.title ?? n.type);
  const text = n.payload.url ? `${n.payload.body}\n\n${oneLine(n.payload.url)}` : n.payload.body;
  return {
    from: from.name ? { name: oneLine(from.name), address: noBreaks(from.address) } : noBreaks(from.address),
    to: noBreaks(to),
    subject,
    text,
    messageId: messageIdFor(n.id, from.domain),
    headers: { [NOTIFICATION_ID_HEADER]: noBreaks(n.id) },
  };
}

/**
 * `<id@domain>` for a notification id. Ids may hold `:` (and dots in places RFC 5322's
 * dot-atom forbids), which a Message-ID's left part may not: those are written as `=3A` and
 * `=2E`. Ids never contain `=`, so distinct ids keep distinct Message-IDs.
 */
export function messageIdFor(id: string, domain: string): string {
  let left = id.replace(/:/g, '=3A');
  if (!/^[A-Za-z0-9_=-]+(\.[A-Za-z0-9_=-]+)*$/.test(left)) left = left.replace(/\./g, '=2E');
  left = left.replace(/[^A-Za-z0-9_=.-]/g, (c) => `=${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return `<${left}@${noBreaks(domain).replace(/[<>\s]/g, '')}>`;
}

// The schema already refuses line breaks in titles and addresses; these guard the header
// lines anyway, since anyone may append entries to the stream.
function oneLine(value: string): string {
  return value.replace(/[\r\n\u2028\u2029]+/g, ' ').trim();
}

function noBreaks(value: string): string {
  return value.replace(/[\r\n\u2028\u2029]+/g, '');
}
