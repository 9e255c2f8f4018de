/** One sliding window: at most `maxRequests` calls per `periodMs`. */
export interface WindowLimit {
  readonly maxRequests: number;
  readonly periodMs: number;
}

/** `UPSTREAMS.md`, throttling: 10 requests per 15 s per player and service. */
export const BURST_LIMIT: WindowLimit = Object.freeze({ maxRequests: 10, periodMs: 15_000 });

/** `UPSTREAMS.md`, throttling: 30 requests per 300 s per player and service. */
export const SUSTAIN_LIMIT: WindowLimit = Object.freeze({ maxRequests: 30, periodMs: 300_000 });

/** Options of `createRateLimiter`; every member has a default. */
export interface RateLimiterOptions {
  /** Multiplies both limits (at least 1 request per window remains); default 1. */
  readonly scale?: number;
  /** Most keys (caller and service pairs) remembered; the least recently seen is forgotten. */
  readonly maxKeys?: number;
  /** Clock in milliseconds; inject one in tests. Default `performance.now`. */
  readonly now?: () => number;
  readonly burst?: WindowLimit;
  readonly sustain?: WindowLimit;
}

/** The outcome of one call: allowed, or the data of a 429 answer. */
export type RateDecision =
  | { readonly isAllowed: true }
  | {
      readonly isAllowed: false;
      /** Whole seconds until a call would be allowed again (at least 1). */
      readonly retryAfterSeconds: number;
      readonly currentRequests: number;
      readonly maxRequests: number;
      readonly periodInSeconds: number;
    };

/** Counts calls per key over a burst and a sustain window at once. */
export interface RateLimiter {
  /** Records a call for `key` and says whether it is allowed. */
  check(key: string): RateDecision;
  /** How many keys are remembered now. */
  readonly keyCount: number;
}

interface KeyState {
  /** Times of allowed calls inside the burst window, oldest first. */
  readonly burst: number[];
  /** Times of all calls, allowed or not, inside the sustain window, oldest first. */
  readonly sustain: number[];
}

const ALLOWED: RateDecision = Object.freeze({ isAllowed: true });

/** Builds a two-window limiter; throws `TypeError` for a bad scale or key bound. */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const scale = options.scale ?? 1;
  const maxKeys = options.maxKeys ?? 30_000;
  const now = options.now ?? (() => performance.now());
  if (!(scale > 0 && Number.isFinite(scale))) {
    throw new TypeError(
      `Cannot create rate limiter: scale must be a positive number (got ${scale})`,
    );
  }
  if (!(Number.isInteger(maxKeys) && maxKeys > 0)) {
    throw new TypeError(
      `Cannot create rate limiter: maxKeys must be a positive whole number (got ${maxKeys})`,
    );
  }
  const burst = scaleLimit(options.burst ?? BURST_LIMIT, scale);
  const sustain = scaleLimit(options.sustain ?? SUSTAIN_LIMIT, scale);
  // Rejected calls keep being recorded; past twice the limit only the newest are needed to decide.
  const maxSustainEntries = 2 * sustain.maxRequests;
  // A Map keeps insertion order: re-inserting on every call makes the first key the least recent.
  const states = new Map<string, KeyState>();

  function stateOf(key: string): KeyState {
    let state = states.get(key);
    if (state === undefined) {
      state = { burst: [], sustain: [] };
      if (states.size >= maxKeys) {
        const oldest = states.keys().next();
        if (oldest.done !== true) states.delete(oldest.value);
      }
    } else {
      states.delete(key);
    }
    states.set(key, state);
    return state;
  }

  return {
    check(key) {
      const time = now();
      const state = stateOf(key);
      dropBefore(state.burst, time - burst.periodMs);
      dropBefore(state.sustain, time - sustain.periodMs);
      const isBurstFull = state.burst.length >= burst.maxRequests;
      const isSustainFull = state.sustain.length >= sustain.maxRequests;
      if (!isBurstFull && !isSustainFull) {
        state.burst.push(time);
        state.sustain.push(time);
        return ALLOWED;
      }

      // UPSTREAMS.md: rejected calls still count toward the sustain window.
      state.sustain.push(time);
      if (state.sustain.length > maxSustainEntries) state.sustain.shift();
      const burstWaitMs = isBurstFull ? waitMs(state.burst, burst, time) : 0;
      const sustainWaitMs = isSustainFull ? waitMs(state.sustain, sustain, time) : 0;
      const isSustainBinding = sustainWaitMs >= burstWaitMs;
      return {
        isAllowed: false,
        retryAfterSeconds: Math.max(1, Math.ceil(Math.max(burstWaitMs, sustainWaitMs) / 1000)),
        currentRequests: isSustainBinding ? state.sustain.length : state.burst.length + 1,
        maxRequests: isSustainBinding ? sustain.maxRequests : burst.maxRequests,
        periodInSeconds: Math.round((isSustainBinding ? sustain : burst).periodMs / 1000),
      };
    },
    get keyCount() {
      return states.size;
    },
  };
}

function scaleLimit(limit: WindowLimit, scale: number): WindowLimit {
  return {
    maxRequests: Math.max(1, Math.round(limit.maxRequests * scale)),
    periodMs: limit.periodMs,
  };
}

/** Removes the times at or before `cutoff` from the front of a sorted list. */
function dropBefore(times: number[], cutoff: number): void {
  let count = 0;
  while (count < times.length && (times[count] ?? Infinity) <= cutoff) count += 1;
  if (count > 0) times.splice(0, count);
}

/** Time until the window holds fewer than `maxRequests` calls, so the next one is allowed. */
function waitMs(times: readonly number[], limit: WindowLimit, time: number): number {
  const mustExpire = times[times.length - limit.maxRequests] ?? time;
  return Math.max(0, mustExpire + limit.periodMs - time);
}
