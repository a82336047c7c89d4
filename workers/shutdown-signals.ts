// What bounds the worker's drain. The Temporal runtime takes the first SIGINT/SIGTERM and shuts the
// workers down gracefully (Runtime's shutdownSignals); this adds the exits it leaves out: a second
// signal ends the process at once, and so does a drain still running at its deadline, when an
// activity ignores its cancellation and keeps the event loop busy past Temporal's force time.
import type { Logger } from '../lib/logger.ts';

/** After the force time: the metrics endpoint, the database pool and the span exporter close. */
export const CLOSE_AFTER_DRAIN_MS = 2_000;

/** From the first signal to the forced exit (docker-compose's stop_grace_period must exceed it). */
export function shutdownDeadlineMs(graceMs: number, cancellationAckMs: number): number {
  return graceMs + cancellationAckMs + CLOSE_AFTER_DRAIN_MS;
}

export function boundShutdown(logger: Logger, options: { graceMs: number; deadlineMs: number }): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal, graceMs: options.graceMs }, 'shutting down: finishing in-flight activities');
      setTimeout(() => {
        logger.error({ deadlineMs: options.deadlineMs }, 'shutdown past its deadline: exiting');
        process.exit(1);
      }, options.deadlineMs).unref();
      process.once(signal, () => {
        logger.error({ signal }, 'second signal: exiting without waiting for in-flight activities');
        process.exit(1);
      });
    });
  }
}
