/**
 * Headers of the pages the publisher serves (the dashboard and the push demo) and their scripts:
 * their own origin only; no framing by another site (`frame-ancestors 'none'`: a framed page
 * could be clicked through by a page on top of it); no guessing of content types; no address in
 * the Referer of what they load.
 */
export const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;
