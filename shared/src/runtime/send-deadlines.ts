/**
 * Time-outs for sends without a timer each: one sweep aborts every send past its deadline.
 * A worker has up to HERALD_CONCURRENCY sends in flight and finishes thousands a second; a timer
 * (AbortSignal.timeout) and a combined signal (AbortSignal.any) per send showed up in profiles
 * as a tenth of the worker's time. The sweep runs only while sends are in flight, and a send
 * is aborted at most one sweep interval after its deadline.
 */
export class SendDeadlines {
  /** Sends started in the same millisecond share a controller: same deadline, one allocation. */
  private readonly watched = new Map<AbortController, { deadline: number; sends: number }>();
  private current: { controller: AbortController; startedAt: number } | undefined;
  private sweep: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;

  constructor(private readonly timeoutMs: number) {
    // Late by at most a twentieth of the time-out, and never checking more often than every 10 ms.
    this.intervalMs = Math.max(10, Math.min(100, Math.floor(timeoutMs / 20)));
  }

  /**
   * A signal that aborts when the send takes longer than the time-out, or on `abortAll`
   * (shutdown); call `done` once the send has settled. No listener on another signal: that
   * too cost more per send than the send itself in a dry run.
   */
  start(): { signal: AbortSignal; done: () => void } {
    const now = Date.now();
    let controller = this.current?.startedAt === now ? this.current.controller : undefined;
    if (!controller || controller.signal.aborted || !this.watched.has(controller)) {
      controller = new AbortController();
      this.current = { controller, startedAt: now };
      this.watched.set(controller, { deadline: now + this.timeoutMs, sends: 0 });
    }
    this.watched.get(controller)!.sends++;
    this.sweep ??= setInterval(() => this.abortOverdue(), this.intervalMs);
    const shared = controller;
    let settled = false;
    return {
      signal: shared.signal,
      done: () => {
        if (settled) return;
        settled = true;
        const watch = this.watched.get(shared);
        if (watch && --watch.sends === 0) this.forget(shared);
      },
    };
  }

  /** Abort every send in flight now (the worker is stopping and its drain time is up). */
  abortAll(reason: Error): void {
    for (const controller of [...this.watched.keys()]) {
      this.forget(controller);
      controller.abort(reason);
    }
  }

  private abortOverdue(): void {
    const now = Date.now();
    for (const [controller, { deadline }] of this.watched) {
      if (deadline > now) continue;
      this.forget(controller);
      controller.abort(new Error(`no answer within ${this.timeoutMs} ms`));
    }
  }

  private forget(controller: AbortController): void {
    this.watched.delete(controller);
    if (this.watched.size === 0 && this.sweep) {
      clearInterval(this.sweep);
      this.sweep = undefined;
    }
  }
}
