import type { UpstreamOutcome, UpstreamPolicy, UpstreamRequest } from '../upstream-pipeline.js';
import { failed } from '../upstream-pipeline.js';

/**
 * The request deadline (API.md §5 rule 1): no call is started once the request's deadline has
 * passed or its client has hung up; a running call is cut by the same signal in the transport.
 * Innermost, so that a retry around it never starts an attempt past the deadline.
 */
export function deadline(): UpstreamPolicy {
  return (next) =>
    <T>(request: UpstreamRequest<T>): Promise<UpstreamOutcome<T>> =>
      request.context.signal.aborted ? Promise.resolve(failed({ kind: 'timeout' })) : next(request);
}
