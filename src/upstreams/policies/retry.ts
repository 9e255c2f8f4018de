import { ExponentialBackoff, fullJitterGenerator } from 'cockatiel';
import type { IBackoff } from 'cockatiel';
import type { RetryBudget } from '../retry-budget.js';
import { isTransientFailure } from '../upstream-circuit.js';
import type { UpstreamOutcome, UpstreamPolicy, UpstreamRequest } from '../upstream-pipeline.js';

/** Options of the retry policy. */
export interface RetryOptions {
  /** Extra attempts after a transient failure (`UPSTREAM_RETRIES`). */
  readonly retries: number;
  readonly budget: RetryBudget;
  /** First backoff; later ones double, with full jitter, up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Least time an attempt needs before the deadline to be worth starting. */
  readonly minAttemptMs: number;
  /** Called just before each retry is sent, for metrics. */
  readonly onRetry?: () => void;
}

/**
 * Retries (API.md §5 rule 2): after a transient failure (connection reset or refused, 500, 502,
 * 503, 504) the same call is sent again, with cockatiel's exponential backoff and full jitter,
 * while the retry budget allows it and the deadline leaves room for the wait plus an attempt.
 */
export function retry(options: RetryOptions): UpstreamPolicy {
  const backoff = new ExponentialBackoff({
    generator: fullJitterGenerator,
    initialDelay: options.baseDelayMs,
    maxDelay: options.maxDelayMs,
  });
  const onRetry = options.onRetry ?? (() => undefined);
  return (next) =>
    async <T>(request: UpstreamRequest<T>): Promise<UpstreamOutcome<T>> => {
      options.budget.recordCall();
      let outcome = await next(request);
      let delay: IBackoff<unknown> | undefined;
      for (let attempt = 1; attempt <= options.retries; attempt += 1) {
        if (outcome.ok || !isTransientFailure(outcome.failure)) return outcome;
        delay = delay ? delay.next(undefined) : backoff.next();
        const { signal, deadlineAtMs } = request.context;
        const hasRoom = deadlineAtMs - performance.now() >= delay.duration + options.minAttemptMs;
        if (!hasRoom || !options.budget.tryRetry()) return outcome;
        if (!(await sleep(delay.duration, signal))) return outcome;
        onRetry();
        outcome = await next({ ...request, attempt: attempt + 1 });
      }
      return outcome;
    };
}

/** Waits `ms`; false when `signal` aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
