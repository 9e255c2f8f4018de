import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { z } from 'zod';

/** A refused call: its status, a short code and description, and extra headers. */
export interface Rejection {
  readonly status: number;
  readonly code: string;
  readonly description: string;
  readonly headers?: Readonly<Record<string, string>>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** "Invalid body: settings[2] is not a known profile setting"; never echoes values. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'Invalid body';
  if (issue.path.length === 0) {
    return issue.code === 'invalid_type'
      ? 'Invalid body: expected a JSON object sent as application/json'
      : `Invalid body: ${issue.message}`;
  }
  const where = issue.path
    .map((part, i) =>
      typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
  return `Invalid body: ${where} ${issue.message}`;
}

/** Answers 405 with `Allow: <methods>`. */
export function allowOnly(methods: string) {
  return function rejectMethod(_req: Request, res: Response): void {
    sendRejection(res, {
      status: 405,
      code: 'MethodNotAllowed',
      description: `Allowed methods: ${methods}`,
      headers: { Allow: methods },
    });
  };
}

/** Sends `{code, description}` with the rejection's status and headers. */
export function sendRejection(res: Response, rejection: Rejection): void {
  sendJson(
    res,
    rejection.status,
    { code: rejection.code, description: rejection.description },
    rejection.headers,
  );
}

/** Answers 400 `InvalidRequestBody` naming what `error` found wrong in the body. */
export function rejectInvalidBody(res: Response, error: z.ZodError): void {
  sendRejection(res, {
    status: 400,
    code: 'InvalidRequestBody',
    description: describeIssue(error),
  });
}

/** Writes a JSON answer directly (no ETag work); a malformed one is cut in half. */
export function sendJson(
  res: Response,
  status: number,
  body: object,
  headers: Readonly<Record<string, string>> = {},
  { isMalformed = false }: { isMalformed?: boolean } = {},
): void {
  const json = JSON.stringify(body);
  const text = isMalformed ? json.slice(0, Math.ceil(json.length / 2)) : json;
  res.statusCode = status;
  res.setHeader('Content-Type', JSON_TYPE);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  // UPSTREAMS.md: upstreams may return X-XblCorrelationId; gateways should log it.
  res.setHeader('X-XblCorrelationId', randomUUID());
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(text);
}
