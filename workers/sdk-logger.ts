// The Temporal SDK's own logs, and the `log` calls of workflows and activities, written through
// the process's pino logger. Their metadata carries the workflow and activity names and ids, and
// the request id and trace ids the interceptors add (workers/interceptors.ts).
import { DefaultLogger, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../lib/logger.ts';

export function sdkLogger(logger: Logger, level: LogLevel): DefaultLogger {
  return new DefaultLogger(level, ({ level, message, meta }) => {
    const method = level === 'TRACE' ? 'trace' : level === 'DEBUG' ? 'debug' : level === 'WARN' ? 'warn' : level === 'ERROR' ? 'error' : 'info';
    logger[method]({ ...meta, sdk: 'temporal' }, message);
  });
}
