import type { Logger } from './logger.js';

/**
 * For an entry point: on the first SIGTERM or SIGINT run `stop` once, then exit 0 (1 if it
 * threw). Later signals while stopping are ignored; `stop` bounds itself (HERALD_SHUTDOWN_MS).
 */
export function exitOnSignals(stop: (signal: NodeJS.Signals) => Promise<void>, logger: Logger): void {
  let stopping: Promise<void> | undefined;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      stopping ??= stop(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'error while stopping');
          process.exit(1);
        },
      );
    });
  }
}
