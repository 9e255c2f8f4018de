import { randomHex } from '../call-context.js';
import type { CallContext } from '../call-context.js';

/**
 * Headers of one upstream call: JSON, the caller's `Authorization`, correlation ids, the call's
 * span under the request's trace and the upstream's version headers. Nothing else from the
 * client reaches an upstream. `traceparent` is the tracing policy's client span when tracing is
 * on; without it the request's trace continues under a fresh span id that no span records.
 */
export function buildXblHeaders(
  context: CallContext,
  versionHeaders: Readonly<Record<string, string>>,
  traceparent?: string,
): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    authorization: context.authorization,
    'x-request-id': context.requestId,
    'ms-cv': context.nextCorrelationVector(),
    traceparent:
      traceparent ?? `00-${context.trace.traceId}-${randomHex(8)}-${context.trace.flags}`,
    ...versionHeaders,
  };
  if (context.trace.state !== undefined) headers.tracestate = context.trace.state;
  return headers;
}
