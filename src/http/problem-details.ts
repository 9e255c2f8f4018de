import type { NextFunction, Request, Response } from 'express';
import { GatewayError, InvalidRequestError } from '../errors.js';
import { requestIdOf } from './request-id.js';
import { noteProblem } from './request-logging.js';

/** Prefix of every problem `type`; the code after it is listed in the README's error table. */
export const PROBLEM_TYPE_PREFIX = 'urn:friend-card-gateway:problem:';

/** An error thrown by Express or its parsers, carrying an HTTP status (e.g. a bad URL escape). */
interface HttpishError {
  readonly status?: unknown;
  readonly statusCode?: unknown;
}

/**
 * The one error middleware (STYLE.md 15): a `GatewayError` becomes an RFC 9457 problem with its
 * headers; a client error from Express keeps its 4xx status; anything else is a logged 500.
 * No stack traces, upstream bodies or tokens ever reach the response.
 */
export function problemDetails(
  error: unknown,
  req: Request,
  res: Response,
  next: NextFunction,
): void {
  if (res.headersSent) {
    next(error);
    return;
  }
  const problem = toGatewayError(error);
  noteProblem(res, problem.code);
  // A bug, with its stack; the gateway's own 5xx answers (502, 503, 504) need no line beyond the
  // request's access line, which names their problem code.
  if (problem.code === 'internal') req.log.error({ err: error }, 'request failed');
  const body: Record<string, unknown> = {
    type: PROBLEM_TYPE_PREFIX + problem.code,
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    requestId: requestIdOf(res),
  };
  if (problem instanceof InvalidRequestError) body.errors = problem.issues;
  res.status(problem.status);
  res.set(problem.headers);
  res.set('Cache-Control', 'no-store');
  res.type('application/problem+json').send(JSON.stringify(body));
}

function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const { status, statusCode } = (error ?? {}) as HttpishError;
  const clientStatus = typeof status === 'number' ? status : statusCode;
  if (typeof clientStatus === 'number' && clientStatus >= 400 && clientStatus < 500) {
    return new GatewayError('bad_request', clientStatus, 'Bad request', {
      detail: 'Cannot read the request',
      cause: error,
    });
  }
  return new GatewayError('internal', 500, 'Internal error', {
    detail: 'The gateway failed unexpectedly; the request id identifies it in the logs',
    cause: error,
  });
}
