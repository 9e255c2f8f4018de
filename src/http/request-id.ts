import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** API.md §5 rule 8: 1–128 characters of `A–Z a–z 0–9 . _ : -`. */
export const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's `X-Request-Id` when it is valid, else a new one. */
export function resolveRequestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && VALID_REQUEST_ID.test(header) ? header : randomUUID();
}

/** Sets `res.locals.requestId` and echoes it as `X-Request-Id` on every response. */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  const id = resolveRequestId(req.headers['x-request-id']);
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  next();
}

/** The id `requestId` gave this request. */
export function requestIdOf(res: Response): string {
  return res.locals.requestId as string;
}
