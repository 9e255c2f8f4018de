import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { ERROR_CODES, GatewayError, InvalidRequestError } from '../errors.js';
import { VALID_REQUEST_ID, requestIdOf } from './request-id.js';
import { noteProblem } from './request-logging.js';

/** Prefix of every problem `type`; the code after it is listed in the README's error table. */
export const PROBLEM_TYPE_PREFIX = 'urn:friend-card-gateway:problem:';

/** One problem with one query parameter, in a 400's `errors` member. */
export const parameterIssueSchema = z.object({
  parameter: z.string().meta({ description: 'The query parameter, e.g. xuids' }),
  message: z.string(),
});

/** The RFC 9457 body of every error response (API.md §3, error responses). */
export const problemSchema = z.object({
  type: z
    .templateLiteral([PROBLEM_TYPE_PREFIX, z.enum(ERROR_CODES)])
    .meta({ description: `${PROBLEM_TYPE_PREFIX}<code>, the code being stable` }),
  title: z.string(),
  status: z.int().min(400).max(599),
  detail: z.string(),
  requestId: z
    .string()
    .regex(VALID_REQUEST_ID)
    .meta({ description: 'The X-Request-Id of the answer; it finds the request in the logs' }),
  errors: z
    .array(parameterIssueSchema)
    .min(1)
    .optional()
    .meta({ description: 'Only with invalid_query: the first problem of each bad parameter' }),
});

/** A problem response body. */
export type ProblemBody = z.infer<typeof problemSchema>;

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
  res.status(problem.status);
  res.set(problem.headers);
  res.set('Cache-Control', 'no-store');
  res.type('application/problem+json').send(JSON.stringify(problemBody(problem, requestIdOf(res))));
}

/** The problem body of `problem`, answered with request id `requestId`. */
export function problemBody(problem: GatewayError, requestId: string): ProblemBody {
  const body: ProblemBody = {
    type: `${PROBLEM_TYPE_PREFIX}${problem.code}`,
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    requestId,
  };
  if (problem instanceof InvalidRequestError) body.errors = [...problem.issues];
  return body;
}

/** The gateway error that answers `error`: itself, a 4xx from Express kept as such, or a 500. */
export function toGatewayError(error: unknown): GatewayError {
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
