/**
 * Wait until `condition` returns a truthy value (or a promise of one), checking every
 * `intervalMs`; fail after `timeoutMs` with `what` in the message. Tests wait for conditions,
 * never for fixed times.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs = 15_000, intervalMs = 25, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? String(lastError) : JSON.stringify(lastError);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${why}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
