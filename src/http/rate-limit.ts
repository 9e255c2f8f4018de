import type { Response } from 'express';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedError } from '../errors.js';
import type { RedisConnection } from '../redis/redis-connection.js';
import { REDIS_KEYS, callerKey } from '../redis/redis-keys.js';

/** Options of the per-caller rate limit (`RATE_LIMIT_PER_CALLER`, `RATE_LIMIT_WINDOW_MS`). */
export interface CallerRateLimitOptions {
  /** Card requests one caller may make per window. */
  readonly limit: number;
  /** The window, in whole seconds' worth of milliseconds (Redis expires counters by the second). */
  readonly windowMs: number;
  /** Counts across every replica sharing it; without it, per process. */
  readonly redis?: RedisConnection | undefined;
}

/** What counting one request gave. */
export interface RateLimitDecision {
  readonly isAllowed: boolean;
  /** Requests the caller has left in this window. */
  readonly remaining: number;
  /** Milliseconds until the window ends and the count starts again. */
  readonly resetMs: number;
}

/** Counters of the rate limit, for tests and metrics. */
export interface CallerRateLimitStats {
  /** Requests counted. */
  readonly counted: number;
  /** Requests refused with 429. */
  readonly refused: number;
  /** Requests counted in this process because Redis was degraded, slow or down. */
  readonly countedLocally: number;
}

/** The per-caller rate limit (API.md §6 rule 4): per-process state built by `createDeps`. */
export interface CallerRateLimit {
  readonly limit: number;
  /** Counts one request of the caller named by `userHash`; never rejects. */
  consume(userHash: string): Promise<RateLimitDecision>;
  stats(): CallerRateLimitStats;
}

/**
 * Creates the rate limit: rate-limiter-flexible's fixed window, keyed by a hash of the caller's
 * userhash. With Redis, `RateLimiterRedis` counts in Redis (one `EVAL` per request, bounded by
 * `REDIS_TIMEOUT_MS`) and its insurance limiter, a `RateLimiterMemory`, counts in this process
 * whenever Redis fails; a degraded Redis is not asked at all until it recovers, so an outage
 * costs no timeout per request. Without Redis the memory limiter alone counts.
 */
export function createCallerRateLimit(options: CallerRateLimitOptions): CallerRateLimit {
  const { limit, windowMs, redis } = options;
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new TypeError('Cannot create rate limit: limit must be a positive integer');
  }
  if (!Number.isInteger(windowMs) || windowMs <= 0 || windowMs % 1000 !== 0) {
    throw new TypeError('Cannot create rate limit: windowMs must be a whole number of seconds');
  }
  const stats = { counted: 0, refused: 0, countedLocally: 0 };
  const window = { points: limit, duration: windowMs / 1000, keyPrefix: REDIS_KEYS.rateLimit };
  // With Redis, the one in-process counter is both the insurance and the degraded-Redis path.
  const local = redis
    ? new InsuranceLimiter(window, () => {
        // RateLimiterRedis fell back: Redis failed or timed out, so the connection is degraded.
        stats.countedLocally++;
        redis.failed(new Error('Cannot count in Redis: the rate limit counted in process'));
      })
    : new RateLimiterMemory(window);
  const shared =
    redis &&
    new RateLimiterRedis({
      ...window,
      storeClient: redis.commands,
      // node-redis (v4 and later) rather than ioredis: `eval` with keys and arguments.
      useRedisPackage: true,
      rejectIfRedisNotReady: true,
      insuranceLimiter: local,
    });

  async function count(
    limiter: Pick<RateLimiterMemory, 'consume'>,
    key: string,
  ): Promise<RateLimitDecision> {
    try {
      return decided(true, await limiter.consume(key));
    } catch (rejection) {
      // Over the limit rejects with the same result type.
      if (rejection instanceof RateLimiterRes) {
        stats.refused++;
        return decided(false, rejection);
      }
      // Anything else is no fault of the caller's, and a rate limit never fails a request.
      if (limiter !== shared) throw rejection;
      return count(local, key);
    }
  }

  return {
    limit,
    consume(userHash) {
      stats.counted++;
      const key = callerKey(userHash);
      if (shared && redis.state() === 'ok') return count(shared, key);
      if (local instanceof InsuranceLimiter) {
        stats.countedLocally++;
        return count(local.direct, key);
      }
      return count(local, key);
    },
    stats: () => ({ ...stats }),
  };
}

function decided(isAllowed: boolean, result: RateLimiterRes): RateLimitDecision {
  return {
    isAllowed,
    remaining: result.remainingPoints,
    resetMs: Math.max(0, result.msBeforeNext),
  };
}

/**
 * The in-process counter behind `RateLimiterRedis`: its `consume` is what the Redis limiter
 * falls back on, and reports each fallback; `direct` counts in the same memory without reporting,
 * for when Redis is known to be degraded.
 */
class InsuranceLimiter extends RateLimiterMemory {
  readonly #onFallback: () => void;
  readonly direct: Pick<RateLimiterMemory, 'consume'>;

  constructor(options: ConstructorParameters<typeof RateLimiterMemory>[0], onFallback: () => void) {
    super(options);
    this.#onFallback = onFallback;
    this.direct = { consume: (...args) => super.consume(...args) };
  }

  override consume(...args: Parameters<RateLimiterMemory['consume']>) {
    this.#onFallback();
    return super.consume(...args);
  }
}

/**
 * Counts the request of `userHash` and sends the `RateLimit-*` headers; over the limit throws
 * the 429 that carries them with `Retry-After`. Runs after the credentials are parsed, so a
 * request without a valid `Authorization` is a 401 and counts for nobody.
 */
export async function enforceRateLimit(
  rateLimit: CallerRateLimit,
  userHash: string,
  res: Response,
): Promise<void> {
  const decision = await rateLimit.consume(userHash);
  const resetSeconds = Math.ceil(decision.resetMs / 1000);
  const headers = {
    'RateLimit-Limit': String(rateLimit.limit),
    'RateLimit-Remaining': String(decision.remaining),
    'RateLimit-Reset': String(resetSeconds),
  };
  if (decision.isAllowed) {
    res.set(headers);
    return;
  }
  throw new RateLimitedError(rateLimit.limit, Math.max(1, resetSeconds), headers);
}
