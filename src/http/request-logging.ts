import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { pino } from 'pino';
import type { DestinationStream, Level, Logger, LoggerOptions as PinoOptions } from 'pino';

declare module 'http' {
  interface IncomingMessage {
    /** The request's logger: every line it writes carries the request id as `reqId`. */
    log: Logger;
  }
}

/** The `name` of every gateway log line. */
export const GATEWAY_LOG_NAME = 'friend-card-gateway';

/**
 * Paths that never reach a log line: credentials and cookies (API.md §4). The access line holds
 * no header at all; these cover any other line that would carry headers.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'cookie',
];

/** Options of the gateway's logger. */
export interface LoggerOptions {
  readonly level: Level | 'silent';
  /** Where lines go; standard output when absent. Tests pass a capturing stream. */
  readonly destination?: DestinationStream;
}

/**
 * The pino options of every gateway line: its `name`, ISO-8601 times, level names instead of
 * numbers, credential redaction. One object, so that a binding or a mixin is one more member.
 */
export function gatewayLogOptions(level: Level | 'silent'): PinoOptions {
  return {
    name: GATEWAY_LOG_NAME,
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
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
    gatewayLogOptions(options.level),
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** Options of `requestLogging`. */
export interface RequestLoggingOptions {
  /** Extra fields of the request's logger and so of its access line (the span's ids, with tracing). */
  readonly extraFields?: (res: Response) => object;
}

/** What the access line reports beyond method, route, status and duration; routes fill it in. */
interface AccessFacts {
  /** Distinct XUIDs the request asked for, once its query was valid. */
  xuidCount?: number;
  /** Upstream parts that failed in an answer with cards (`errors[]` of a 200). */
  failedParts?: number;
  /** The problem code of an error answer. */
  problem?: string;
}

/** Records the number of distinct XUIDs asked, for the access line. */
export function noteXuidCount(res: Response, xuidCount: number): void {
  (res.locals as AccessFacts).xuidCount = xuidCount;
}

/** Records the number of failed upstream parts of an answer with cards, for the access line. */
export function noteFailedParts(res: Response, failedParts: number): void {
  (res.locals as AccessFacts).failedParts = failedParts;
}

/** Records the problem code of an error answer, for the access line. */
export function noteProblem(res: Response, code: string): void {
  (res.locals as AccessFacts).problem = code;
}

/** Status logged when the client hung up before the answer was written (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499;

/**
 * The level of a request's access line: 2xx–4xx at info (a 429 is one caller's upstream quota,
 * a 4xx the client's mistake), 503 at warn (the gateway shed load, which an operator should
 * see), any other 5xx at error.
 */
export function accessLevel(status: number): 'info' | 'warn' | 'error' {
  if (status < 500) return 'info';
  return status === 503 ? 'warn' : 'error';
}

const kStartedAt = Symbol('startedAt');

interface TimedResponse extends ServerResponse {
  [kStartedAt]: number;
}

/**
 * Request logging: gives the request a logger bound to its request id (`req.log`) and writes ONE
 * compact access line when the response is done — method, route pattern, status, duration,
 * request id, XUIDs asked and failed parts. No URL (it holds XUIDs), no header, no body: nothing
 * is serialised before the response ends, and no closure is made per request.
 */
export function requestLogging(logger: Logger, options: RequestLoggingOptions = {}) {
  const { extraFields } = options;
  return function logRequest(req: Request, res: Response, next: NextFunction): void {
    (res as unknown as TimedResponse)[kStartedAt] = performance.now();
    const reqId = res.locals.requestId as string;
    req.log = logger.child(extraFields ? { reqId, ...extraFields(res) } : { reqId });
    res.once('close', writeAccessLine);
    next();
  };
}

/** Runs as the response's `close` listener: `this` is the response. */
function writeAccessLine(this: ServerResponse): void {
  const res = this as Response;
  const { req } = res;
  const isFinished = res.writableFinished;
  const status = isFinished ? res.statusCode : CLIENT_CLOSED_REQUEST;
  const level = accessLevel(status);
  if (!req.log.isLevelEnabled(level)) return;
  const facts = res.locals as AccessFacts;
  const durationMs = Math.round(performance.now() - (this as TimedResponse)[kStartedAt]);
  req.log[level](
    {
      method: req.method,
      route: routeOf(req),
      status,
      durationMs,
      xuidCount: facts.xuidCount,
      failedParts: facts.failedParts,
      problem: facts.problem,
    },
    isFinished ? 'request finished' : 'request aborted',
  );
}

/** The matched route's pattern (`/friends-with-profiles`), never the URL; null when none matched. */
function routeOf(req: Request): string | null {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? req.baseUrl + path : null;
}
