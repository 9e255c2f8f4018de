import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import type { DestinationStream, Level, Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { HttpLogger } from 'pino-http';

/** Paths that never reach a log line: credentials and cookies (API.md §4). */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
];

/** Options of the gateway's logger. */
export interface LoggerOptions {
  readonly level: Level | 'silent';
  /** Where lines go; standard output when absent. Tests pass a capturing stream. */
  readonly destination?: DestinationStream;
}

/**
 * Creates the pino logger with credential redaction; entry files and tests call it.
 *
 * Standard output is written synchronously. pino's default asynchronous destination registers a
 * `process.on('exit')` hook that flushes with sonic-boom's `flushSync`, which retries every write
 * error, EPIPE included, every 100 ms for ever: with stdout a closed pipe (`… | head -1`) the
 * process then never finishes exiting. A synchronous destination has no such hook, and pino's
 * own EPIPE filter turns a broken pipe into dropped lines instead of an error.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    { level: options.level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** Options of `requestLogging`. */
export interface RequestLoggingOptions {
  /** Extra fields of the request's logger and its access line (the span's ids, with tracing). */
  readonly customProps?: (req: IncomingMessage, res: ServerResponse) => object;
}

/** pino-http request logging: one line per request with its id, status and duration. */
export function requestLogging(logger: Logger, options: RequestLoggingOptions = {}): HttpLogger {
  return pinoHttp({
    logger,
    ...(options.customProps && { customProps: options.customProps }),
    genReqId: (_req: IncomingMessage, res: ServerResponse) =>
      String((res as ServerResponse & { locals?: { requestId?: string } }).locals?.requestId),
    customLogLevel: (_req, res, error) =>
      error !== undefined || res.statusCode >= 500 ? 'error' : 'info',
    customSuccessMessage: () => 'request finished',
    customErrorMessage: () => 'request failed',
  });
}
