import type { DeadLetterReason, Mark, SendOutcome, Settlement } from './work.js';

/** What an attempt knew besides its send outcomes. */
export interface AttemptFacts {
  /** This attempt's number: 1 when read, one more each time it was taken back. */
  attempt: number;
  /** HERALD_MAX_ATTEMPTS. */
  maxAttempts: number;
  /** Targets whose claims answered that they were delivered before. */
  delivered: number;
  /** Targets another attempt holds a lease on. */
  held: number;
  /** HERALD_SEND_TIMEOUT_MS, to say why a send's outcome is unknown. */
  sendTimeoutMs: number;
}

/**
 * What an attempt's send outcomes mean for its entry. It is retried while a target may still go
 * out: a transient failure with attempts left, a target another attempt holds, a send whose
 * outcome is not known yet; meanwhile sent targets are marked delivered, transient failures
 * released for the retry and the others failed. A transient failure's Retry-After holds the
 * retry back. Otherwise the outcome is final: delivered when any target was, now or before;
 * else dead, as `max_attempts` when transient failures ran out of attempts, `gone` when every
 * target is gone, `permanent` otherwise. Pure: the caller counts, writes and frees the slot.
 */
export function settlementOf(outcomes: readonly SendOutcome[], facts: AttemptFacts): Settlement {
  let sent = 0,
    failed = 0,
    transient = 0,
    gone = 0,
    unknown = 0,
    retryAfterMs = 0;
  let providerId: string | undefined, transientError: string | undefined;
  let firstError: string | undefined, lastingError: string | undefined;
  for (const o of outcomes) {
    if ('result' in o) {
      sent++;
      providerId ||= o.result.providerId;
    } else if ('unknown' in o) {
      unknown++;
    } else {
      const { kind, message } = o.error;
      failed++;
      firstError ??= message;
      if (kind === 'gone') gone++;
      else lastingError ??= message;
      if (kind === 'transient') {
        transient++;
        transientError ??= message;
        retryAfterMs = Math.max(retryAfterMs, o.error.retryAfterMs ?? 0);
      }
    }
  }

  const retry = (transient > 0 && facts.attempt < facts.maxAttempts) || facts.held > 0 || unknown > 0;
  const marks = marksOf(outcomes, retry);
  if (retry) {
    const error = transientError ?? (unknown ? `no answer within ${facts.sendTimeoutMs} ms` : undefined);
    const settlement: Settlement = {
      status: error ? { state: 'retrying', error } : { state: 'retrying' },
      marks,
      action: 'retry',
    };
    if (retryAfterMs > 0) settlement.retryAfterMs = retryAfterMs;
    return settlement;
  }
  if (sent > 0 || facts.delivered > 0) {
    return { status: providerId ? { state: 'delivered', providerId } : { state: 'delivered' }, marks, action: 'ack' };
  }
  // Final and nothing went out: every outcome is a failure (an unknown one would have retried).
  const reason: DeadLetterReason = transient > 0 ? 'max_attempts' : gone === failed ? 'gone' : 'permanent';
  return deadSettlement(marks, reason, (lastingError ?? firstError)!, false);
}

/**
 * An entry given up on: dead-lettered with its reason, unless one of its targets was delivered
 * before, which makes it delivered.
 */
export function deadSettlement(
  marks: readonly Mark[],
  reason: DeadLetterReason,
  error: string,
  someDelivered: boolean,
): Settlement {
  return someDelivered
    ? { status: { state: 'delivered' }, marks, action: 'ack' }
    : { status: { state: 'dead', reason, error }, marks, action: 'ack', deadLetter: { reason, error } };
}

/** How a settlement counts in `herald_deliveries_total`. */
export function deliveryOutcome(settlement: Settlement): 'retried' | 'delivered' | 'dead' {
  if (settlement.action === 'retry') return 'retried';
  return settlement.status?.state === 'delivered' ? 'delivered' : 'dead';
}

/** Sent targets first, then failed ones; a transient failure is released when the entry retries. */
function marksOf(outcomes: readonly SendOutcome[], retry: boolean): Mark[] {
  const marks: Mark[] = [];
  for (const o of outcomes) if ('result' in o) marks.push([o.target, 'delivered']);
  for (const o of outcomes)
    if ('error' in o) marks.push([o.target, retry && o.error.kind === 'transient' ? 'release' : 'failed']);
  return marks;
}
