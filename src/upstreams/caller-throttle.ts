import { LRUCache } from 'lru-cache';
import type { UpstreamName } from '../xbl-vocabulary.js';

/** Options of the throttle memory; the number of remembered callers is bounded. */
export interface CallerThrottleOptions {
  readonly maxCallers: number;
  /** Clock in milliseconds; tests inject a fake one. */
  readonly now?: () => number;
}

/**
 * Remembers which caller an upstream throttled, until its `Retry-After` (API.md §5 rule 4):
 * Xbox Live limits each player separately, so another caller is never held back, and a
 * throttled caller's calls are not sent (they would still count toward its sustain window).
 */
export interface CallerThrottle {
  /**
   * Whole seconds `callerId` must still wait before calling `upstream`; 0 when free. A memory
   * shared with other replicas answers with a promise when it has to ask them.
   */
  remainingSeconds(upstream: UpstreamName, callerId: string): number | Promise<number>;
  /** Records an upstream 429 for `callerId`. */
  record(upstream: UpstreamName, callerId: string, retryAfterSeconds: number): void;
}

/** The in-process throttle memory, which always answers at once. */
export interface LocalCallerThrottle extends CallerThrottle {
  remainingSeconds(upstream: UpstreamName, callerId: string): number;
}

/** Creates the throttle memory, an LRU of (upstream, caller) → the time it may call again. */
export function createCallerThrottle(options: CallerThrottleOptions): LocalCallerThrottle {
  if (!Number.isInteger(options.maxCallers) || options.maxCallers <= 0) {
    throw new TypeError('Cannot create caller throttle: maxCallers must be a positive integer');
  }
  const now = options.now ?? (() => performance.now());
  const until = new LRUCache<string, number>({ max: options.maxCallers });
  return {
    remainingSeconds(upstream, callerId) {
      const key = `${upstream}:${callerId}`;
      const untilMs = until.get(key);
      if (untilMs === undefined) return 0;
      const remainingMs = untilMs - now();
      if (remainingMs > 0) return Math.ceil(remainingMs / 1000);
      until.delete(key);
      return 0;
    },
    record(upstream, callerId, retryAfterSeconds) {
      const key = `${upstream}:${callerId}`;
      const untilMs = now() + retryAfterSeconds * 1000;
      until.set(key, Math.max(untilMs, until.get(key) ?? 0));
    },
  };
}
