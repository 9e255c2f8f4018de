import type { CallerThrottle } from '../caller-throttle.js';
import type { UpstreamOutcome, UpstreamPolicy, UpstreamRequest } from '../upstream-pipeline.js';
import { failed } from '../upstream-pipeline.js';

/**
 * Per-caller throttling (API.md §5 rule 4): a call for a caller that this upstream answered 429
 * is not sent until its `Retry-After` has passed, and every 429 is remembered for that caller
 * only. A held-back call is not an upstream call: nothing inside the gate sees it. Inside the
 * retry, so a retry is held back too once another call of the caller met a 429.
 */
export function callerThrottleGate(throttle: CallerThrottle): UpstreamPolicy {
  return (next) =>
    async <T>(request: UpstreamRequest<T>): Promise<UpstreamOutcome<T>> => {
      const { upstream } = request.endpoint;
      const { callerId, logger } = request.context;
      const remaining = throttle.remainingSeconds(upstream, callerId);
      // The local memory answers at once; only a shared one is awaited.
      const waitSeconds = typeof remaining === 'number' ? remaining : await remaining;
      if (waitSeconds > 0) {
        logger.debug({ upstream, retryAfterSeconds: waitSeconds }, 'upstream call held back');
        return failed({ kind: 'throttled', retryAfterSeconds: waitSeconds });
      }
      const outcome = await next(request);
      if (!outcome.ok && outcome.failure.status === 429) {
        throttle.record(upstream, callerId, outcome.failure.retryAfterSeconds ?? 1);
      }
      return outcome;
    };
}
