/** Options of one upstream's retry budget (`RETRY_BUDGET_RATIO`). */
export interface RetryBudgetOptions {
  /** Retries may be at most this share of the calls over the window. */
  readonly ratio: number;
  readonly windowMs: number;
  /** Retries per second that always pass, so a quiet upstream can still be retried. */
  readonly minRetriesPerSecond: number;
  /** Clock in milliseconds; tests inject a fake one. */
  readonly now?: () => number;
}

/**
 * One upstream's retry budget, in the manner of Finagle's and Envoy's: retries are allowed while
 * they stay under `ratio` of the first attempts of the last `windowMs`, plus a small floor. It
 * keeps a failing upstream from getting three calls per client request. Per-process state.
 */
export interface RetryBudget {
  /** Counts a first attempt. */
  recordCall(): void;
  /** Takes one retry from the budget; false when it is spent. */
  tryRetry(): boolean;
}

/** Creates a budget over one-second buckets of the window. */
export function createRetryBudget(options: RetryBudgetOptions): RetryBudget {
  const { ratio, windowMs, minRetriesPerSecond } = options;
  const now = options.now ?? (() => performance.now());
  const bucketCount = Math.max(1, Math.ceil(windowMs / 1000));
  const calls = new Array<number>(bucketCount).fill(0);
  const retries = new Array<number>(bucketCount).fill(0);
  let currentSecond = Math.floor(now() / 1000);

  /** Moves to the current second, emptying the buckets that fell out of the window. */
  function advance(): number {
    const second = Math.floor(now() / 1000);
    for (let s = currentSecond + 1; s <= Math.min(second, currentSecond + bucketCount); s += 1) {
      calls[s % bucketCount] = 0;
      retries[s % bucketCount] = 0;
    }
    currentSecond = Math.max(currentSecond, second);
    return currentSecond % bucketCount;
  }

  const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

  return {
    recordCall() {
      const index = advance();
      calls[index] = (calls[index] ?? 0) + 1;
    },
    tryRetry() {
      const index = advance();
      const allowed = ratio * sum(calls) + minRetriesPerSecond * bucketCount;
      if (sum(retries) >= allowed) return false;
      retries[index] = (retries[index] ?? 0) + 1;
      return true;
    },
  };
}
