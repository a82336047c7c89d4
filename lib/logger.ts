// One pino logger per process. Secrets, keys and message bodies never reach info level: the
// redact list removes what could carry them if a caller logs a whole object by mistake.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'headers.authorization',
  '*.password',
  '*.secret',
  '*.apiKey',
  '*.accessToken',
  '*.appSecret',
  '*.pageAccessToken',
  '*.verifyToken',
  '*.token',
];

/** Writes to stdout unless given a destination (the tests read the lines). */
export function createLogger(options: { level: string; name: string } & Partial<LoggerOptions>, destination?: DestinationStream): Logger {
  const settings = {
    base: { service: options.name },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
  };
  return destination ? pino(settings, destination) : pino(settings);
}
