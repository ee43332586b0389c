import { DeliveryError } from '@herald/shared';

/**
 * Settle with `work`, or reject with a transient DeliveryError as soon as `signal` aborts.
 * web-push takes no signal; its `timeout` option (HERALD_SEND_TIMEOUT_MS) bounds how long the
 * abandoned request can go on, and the push `topic` lets the push service replace a resend.
 */
export function abortable<T>(work: () => Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(aborted(signal, what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    work().then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function aborted(signal: AbortSignal, what: string): DeliveryError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return new DeliveryError('transient', `${what} gave up: ${reason}`, undefined, { cause: signal.reason });
}
