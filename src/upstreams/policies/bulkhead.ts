import {
  bulkhead as createBulkhead,
  isBulkheadRejectedError,
  isTaskCancelledError,
} from 'cockatiel';
import type { UpstreamOutcome, UpstreamPolicy, UpstreamRequest } from '../upstream-pipeline.js';
import { failed } from '../upstream-pipeline.js';

/** Options of one upstream's bulkhead. */
export interface BulkheadOptions {
  /** Calls in flight at once: the pool's connections (`UPSTREAM_CONNECTIONS`). */
  readonly limit: number;
  /** Calls that may wait for one of them (`UPSTREAM_MAX_QUEUED`); past it, fail fast. */
  readonly queue: number;
}

/**
 * A bound on one upstream's concurrent calls (cockatiel's bulkhead): a slow upstream holds at
 * most `limit + queue` calls, and the next part fails at once as `unavailable` instead of
 * queueing without bound behind it. One instance per upstream, like the chain it is listed in.
 */
export function bulkhead(options: BulkheadOptions): UpstreamPolicy {
  const slots = createBulkhead(options.limit, options.queue);
  return (next) =>
    async <T>(request: UpstreamRequest<T>): Promise<UpstreamOutcome<T>> => {
      try {
        return await slots.execute(() => next(request), request.context.signal);
      } catch (error) {
        // Full: nothing was sent. Waited in the queue past the deadline: a timeout.
        if (isBulkheadRejectedError(error)) return failed({ kind: 'unavailable', cause: error });
        if (isTaskCancelledError(error)) return failed({ kind: 'timeout', cause: error });
        throw error;
      }
    };
}
