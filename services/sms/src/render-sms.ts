import type { Notification } from '@herald/shared';

/** Longest text Twilio accepts in one message, in characters. */
export const SMS_MAX_CHARS = 1600;

/**
 * The text of an SMS: the title, a line break and the body (or the body alone), shortened
 * with `…` to at most 1600 characters, counted as UTF-16 code units (never splitting a
 * surrogate pair) so that it fits however Twilio counts. Pure.
 */
export function renderSms(n: Notification): string {
  const text = n.payload.title ? `${n.payload.title}\n${n.payload.body}` : n.payload.body;
  return shorten(text, SMS_MAX_CHARS);
}

function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  let kept = '';
  for (const char of text) {
    if (kept.length + char.length > max - 1) break;
    kept += char;
  }
  return `${kept.trimEnd()}…`;
}
