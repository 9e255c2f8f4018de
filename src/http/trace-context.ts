import { randomHex } from '../call-context.js';
import type { TraceContext } from '../call-context.js';

/** W3C trace context level 1 `traceparent`: version 00, non-zero trace and parent ids. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ALL_ZERO = /^0+$/;

/** `tracestate`: at most 32 comma-separated list members of printable ASCII, 512 chars. */
const TRACESTATE = /^[\x20-\x7e]{1,512}$/;

/** A client's valid trace context: its trace, the span that called us and its `tracestate`. */
export interface IncomingTrace extends TraceContext {
  /** The caller's span id, 16 lowercase hex digits. */
  readonly parentId: string;
}

/**
 * The client's trace context when its `traceparent` is valid W3C trace context (with its
 * `tracestate` when that is valid too), else undefined (API.md §5 rule 8).
 */
export function parseTraceparent(
  traceparent: string | string[] | undefined,
  tracestate: string | string[] | undefined,
): IncomingTrace | undefined {
  const match = typeof traceparent === 'string' ? TRACEPARENT.exec(traceparent) : null;
  const [, traceId, parentId, flags] = match ?? [];
  if (!traceId || !parentId || !flags || ALL_ZERO.test(traceId) || ALL_ZERO.test(parentId)) {
    return undefined;
  }
  const isStateValid =
    typeof tracestate === 'string' &&
    TRACESTATE.test(tracestate) &&
    tracestate.split(',').length <= 32;
  return { traceId, parentId, flags, state: isStateValid ? tracestate : undefined };
}

/**
 * Continues the client's trace when its `traceparent` is valid W3C trace context (with its
 * `tracestate`), else starts a new sampled trace (API.md §3 and §5 rule 8).
 */
export function resolveTraceContext(
  traceparent: string | string[] | undefined,
  tracestate: string | string[] | undefined,
): TraceContext {
  return parseTraceparent(traceparent, tracestate) ?? { traceId: randomHex(16), flags: '01' };
}
