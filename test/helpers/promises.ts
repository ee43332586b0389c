/** A signal that never aborts, for sends that should run to their end. */
export const never = (): AbortSignal => new AbortController().signal;

/** The error `promise` rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the send to fail');
}
