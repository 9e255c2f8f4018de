import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';

/** W3C trace context to continue on outgoing calls (API.md §3). */
export interface TraceContext {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** 2 hex digits, e.g. `01` when sampled. */
  readonly flags: string;
  /** The client's `tracestate`, forwarded only with a valid `traceparent`. */
  readonly state?: string | undefined;
}

/** What every upstream call of one client request carries: credentials, ids, deadline, logger. */
export interface CallContext {
  /** The caller's `Authorization`, forwarded verbatim and never logged. */
  readonly authorization: string;
  /** The player behind the token (the userhash), for per-caller limits; not a secret. */
  readonly callerId: string;
  readonly requestId: string;
  readonly trace: TraceContext;
  /** Aborts when the request deadline passes. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Returns the next `MS-CV` value of this request's correlation vector. */
  readonly nextCorrelationVector: () => string;
}

/** Starts a correlation vector (`MS-CV`): a random base, then `.1`, `.2`… per upstream call. */
export function createCorrelationVector(): () => string {
  const base = randomBytes(12).toString('base64');
  let counter = 0;
  return () => `${base}.${++counter}`;
}

/** Options of `buildXblHeaders` for one upstream. */
export interface XblHeaderOptions {
  /** Extra version headers the upstream's contract asks for (UPSTREAMS.md). */
  readonly versionHeaders: Readonly<Record<string, string>>;
}

/**
 * Headers of one upstream call: JSON, the caller's `Authorization`, correlation ids and a new
 * span under the request's trace. Nothing else from the client reaches an upstream.
 */
export function buildXblHeaders(
  context: CallContext,
  options: XblHeaderOptions,
): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    authorization: context.authorization,
    'x-request-id': context.requestId,
    'ms-cv': context.nextCorrelationVector(),
    traceparent: `00-${context.trace.traceId}-${randomBytes(8).toString('hex')}-${context.trace.flags}`,
    ...options.versionHeaders,
  };
  if (context.trace.state !== undefined) headers.tracestate = context.trace.state;
  return headers;
}
