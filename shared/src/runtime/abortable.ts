import { DeliveryError } from '../channel-driver.js';

/**
 * Settle with `work`, or reject with a transient DeliveryError as soon as `signal` aborts.
 * No provider SDK takes an AbortSignal (nodemailer cannot cancel a message once handed over);
 * each SDK's own time-out, set to HERALD_SEND_TIMEOUT_MS, bounds how long the abandoned call
 * goes on, and stable provider-side ids (Message-ID, push topic) mark a resend as the same.
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
