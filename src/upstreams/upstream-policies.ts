import type { Tracer } from '@opentelemetry/api';
import type { CallerThrottle } from './caller-throttle.js';
import { bulkhead } from './policies/bulkhead.js';
import { callLogging } from './policies/call-logging.js';
import { callerThrottleGate } from './policies/caller-throttle-gate.js';
import { circuitBreaker } from './policies/circuit-breaker.js';
import { deadline } from './policies/deadline.js';
import { callMetrics, NO_CALL_OBSERVER } from './policies/metrics.js';
import type { UpstreamCallObserver } from './policies/metrics.js';
import { retry } from './policies/retry.js';
import { tracing } from './policies/tracing.js';
import type { RetryBudget } from './retry-budget.js';
import type { UpstreamCircuit } from './upstream-circuit.js';
import type { UpstreamPolicy } from './upstream-pipeline.js';

/** What one upstream's policies read: settings, and the per-process state they use. */
export interface UpstreamPolicyDeps {
  /** `UPSTREAM_RETRIES`. */
  readonly retries: number;
  /** Calls in flight and waiting for this upstream (`UPSTREAM_CONNECTIONS`, `UPSTREAM_MAX_QUEUED`). */
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  /** Shared by every upstream: the callers each one throttled. */
  readonly throttle: CallerThrottle;
  /** This upstream's own circuit and retry budget. */
  readonly circuit: UpstreamCircuit;
  readonly retryBudget: RetryBudget;
  /** Where this upstream's attempts and retries are reported (metrics); none by default. */
  readonly observer?: UpstreamCallObserver;
  /** The process's tracer when tracing is on, and the upstream's base URL for its spans. */
  readonly tracer?: Tracer | undefined;
  readonly baseUrl?: string | undefined;
}

/** Backoff of retries: tens of milliseconds, since the request deadline is about a second. */
const RETRY_BASE_DELAY_MS = 20;
const RETRY_MAX_DELAY_MS = 200;
/** An attempt needs at least this long before the deadline to be worth starting. */
const MIN_ATTEMPT_MS = 20;

/**
 * The chain every upstream call passes through, outermost first; called once per upstream with
 * that upstream's state. A new policy is one file in `policies/` and one line here.
 *
 * Each retry attempt is counted by the metrics policy, then passes the caller throttle gate (so
 * a retry after its backoff honours a 429 another batch of the same caller met meanwhile, and a
 * held-back attempt is counted once, as `throttled`, without being sent), the deadline, the
 * breaker (so every attempt counts toward opening it, and an open circuit ends the retries),
 * then the bulkhead (a full one fails fast and is no fault of the upstream's), and gets a span and a
 * log line only when it is really sent. A held-back call, like one the open circuit rejects, still
 * counts as a call in the retry budget: it is one more call that needed no retry.
 */
export function upstreamPolicies(deps: UpstreamPolicyDeps): UpstreamPolicy[] {
  const observer = deps.observer ?? NO_CALL_OBSERVER;
  return [
    retry({
      retries: deps.retries,
      budget: deps.retryBudget,
      baseDelayMs: RETRY_BASE_DELAY_MS,
      maxDelayMs: RETRY_MAX_DELAY_MS,
      minAttemptMs: MIN_ATTEMPT_MS,
      onRetry: () => {
        observer.retried();
      },
    }),
    callMetrics(observer),
    callerThrottleGate(deps.throttle),
    deadline(),
    circuitBreaker(deps.circuit),
    bulkhead({ limit: deps.maxConcurrent, queue: deps.maxQueued }),
    tracing({ tracer: deps.tracer, baseUrl: deps.baseUrl }),
    callLogging(),
  ];
}
