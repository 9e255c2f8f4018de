import { isBulkheadRejectedError } from 'cockatiel';
import { isCredentialRejection } from '../upstream-batches.js';
import type { UpstreamOutcome, UpstreamPolicy, UpstreamRequest } from '../upstream-pipeline.js';

/**
 * How one attempt of an upstream call ended, as a metric label: the failure kinds of the
 * contract, plus the two cases an operator must tell apart from an upstream fault.
 */
export const CALL_OUTCOMES = [
  'ok',
  'timeout',
  'unavailable',
  'bad_response',
  'throttled',
  'circuit_open',
  /** 401 or 403: the upstream rejected the caller's token (a client problem, not an outage). */
  'credentials_rejected',
  /** This upstream's bulkhead was full: nothing was sent (the gateway's own saturation). */
  'bulkhead_full',
] as const;

/** One of `CALL_OUTCOMES`. */
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

/**
 * What the metrics policy reports for one upstream: plain callbacks, so that upstreams/ knows
 * nothing of the metrics library. One observer per upstream, built once in `createDeps`.
 */
export interface UpstreamCallObserver {
  /** One attempt ended with `outcome` after `seconds`, counted held-back and rejected ones too. */
  attemptFinished(outcome: CallOutcome, seconds: number): void;
  /** The retry policy is about to send the same call again. */
  retried(): void;
}

/** An observer that records nothing. */
export const NO_CALL_OBSERVER: UpstreamCallObserver = Object.freeze({
  attemptFinished: () => undefined,
  retried: () => undefined,
});

/** The outcome label of `outcome`. */
export function callOutcomeOf(outcome: UpstreamOutcome<unknown>): CallOutcome {
  if (outcome.ok) return 'ok';
  const { failure } = outcome;
  if (isCredentialRejection(failure)) return 'credentials_rejected';
  if (failure.kind === 'unavailable' && isBulkheadRejectedError(failure.cause)) {
    return 'bulkhead_full';
  }
  return failure.kind;
}

/**
 * Counts and times every attempt of an upstream call. It sits inside the retry policy, so each
 * attempt is one observation (a retried 503 and the success after it are two), and outside the
 * caller throttle gate and the circuit breaker, so a call the gate holds back (`throttled`) or an
 * open circuit rejects (`circuit_open`) is seen once too: both end the retries at once, so
 * neither is ever counted twice. The time includes waiting for the bulkhead, not the backoff
 * between attempts, which the retry policy spends outside it.
 */
export function callMetrics(observer: UpstreamCallObserver): UpstreamPolicy {
  return (next) =>
    async <T>(request: UpstreamRequest<T>): Promise<UpstreamOutcome<T>> => {
      const startedAt = performance.now();
      const outcome = await next(request);
      observer.attemptFinished(callOutcomeOf(outcome), (performance.now() - startedAt) / 1000);
      return outcome;
    };
}
