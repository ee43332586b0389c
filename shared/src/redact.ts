/**
 * Provider error messages often quote the recipient ("550 <ada@example.com>: no such user").
 * Errors are stored in statuses and dead letters and logged, so contact data is masked first:
 * the recipients named in `recipients` wherever they appear, then anything shaped like an email
 * address or a phone number. (The shapes alone miss some: E.164 allows numbers as short as
 * `+12`, and a push endpoint is a URL.)
 */
export function redactContactData(text: string, recipients: readonly string[] = [], maxLength = 500): string {
  let masked = text;
  for (const recipient of recipients) {
    // As given, and as a URL or form body would quote it (`%2B1234567`).
    for (const form of new Set([recipient, encodeURIComponent(recipient)]))
      if (form) masked = masked.replaceAll(form, '[recipient]');
  }
  masked = masked
    .replace(/[^\s<>"'(),;:]+@[^\s<>"'(),;:]+/g, '[email]')
    .replace(/\+?\d[\d\s().-]{6,}\d/g, '[number]')
    .replace(/\+\d{2,}/g, '[number]');
  return masked.length > maxLength ? `${masked.slice(0, maxLength - 1)}…` : masked;
}
