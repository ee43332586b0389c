/**
 * Provider error messages often quote the recipient ("550 <ada@example.com>: no such user").
 * Errors are stored in statuses and dead letters and logged, so contact data is masked first.
 */
export function redactContactData(text: string, maxLength = 500): string {
  const masked = text
    .replace(/[^\s<>"'(),;:]+@[^\s<>"'(),;:]+/g, '[email]')
    .replace(/\+?\d[\d\s().-]{6,}\d/g, '[number]');
  return masked.length > maxLength ? `${masked.slice(0, maxLength - 1)}…` : masked;
}
