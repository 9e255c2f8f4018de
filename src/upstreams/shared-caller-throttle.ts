import type { RedisConnection } from '../redis/redis-connection.js';
import { REDIS_KEYS, callerKey } from '../redis/redis-keys.js';
import type { UpstreamName } from '../xbl-vocabulary.js';
import type { CallerThrottle, LocalCallerThrottle } from './caller-throttle.js';

/** Sets the gate for `ARGV[1]` ms unless it is already set for longer: a gate never shortens. */
const RECORD_SCRIPT = `if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1`;

/** Counters of the shared gates, for tests and metrics. */
export interface SharedCallerThrottleStats {
  /** Gates read from Redis before a call. */
  readonly reads: number;
  /** Reads that found a gate another replica (or this one) set: the call was held back. */
  readonly heldByShared: number;
  /** Reads skipped, timed out or failed because Redis was degraded: the local gate alone. */
  readonly unavailable: number;
  /** Gates written after an upstream 429. */
  readonly writes: number;
}

/** The throttle memory shared across replicas, plus its counters. */
export interface SharedCallerThrottle extends CallerThrottle {
  stats(): SharedCallerThrottleStats;
}

/** Options of the shared throttle memory. */
export interface SharedCallerThrottleOptions {
  /** The process's own memory, asked first and told of every gate found in Redis. */
  readonly local: LocalCallerThrottle;
  readonly connection: RedisConnection;
}

/** The Redis key of `upstream`'s gate for a caller: `fcg:v1:throttle:<upstream>:<hash>`. */
export function throttleKey(upstream: UpstreamName, callerId: string): string {
  return `${REDIS_KEYS.throttle}${upstream}:${callerKey(callerId)}`;
}

/**
 * Per-caller throttle gates that every replica sharing Redis honours (API.md §5 rule 4): a 429
 * for a caller sets a key that lives as long as its `Retry-After`, and before a call each replica
 * reads it (one `PTTL`, bounded by `REDIS_TIMEOUT_MS`). The local memory answers first, so a
 * caller already known to be held back costs no round trip; with Redis degraded, slow or down
 * the local gate alone decides, as without Redis.
 */
export function createSharedCallerThrottle(
  options: SharedCallerThrottleOptions,
): SharedCallerThrottle {
  const { local, connection } = options;
  const { commands } = connection;
  const stats = { reads: 0, heldByShared: 0, unavailable: 0, writes: 0 };

  async function readShared(upstream: UpstreamName, callerId: string): Promise<number> {
    stats.reads++;
    let remainingMs: number;
    try {
      remainingMs = await commands.pTTL(throttleKey(upstream, callerId));
    } catch (error) {
      connection.failed(error);
      stats.unavailable++;
      return 0;
    }
    connection.succeeded();
    // -2: no gate; -1: a key without expiry, which the gateway never writes.
    if (remainingMs <= 0) return 0;
    stats.heldByShared++;
    // Remembered here too, so this caller's next calls are held back without asking Redis.
    local.record(upstream, callerId, remainingMs / 1000);
    return Math.ceil(remainingMs / 1000);
  }

  return {
    remainingSeconds(upstream, callerId) {
      const localSeconds = local.remainingSeconds(upstream, callerId);
      if (localSeconds > 0) return localSeconds;
      if (connection.state() !== 'ok') {
        stats.unavailable++;
        return 0;
      }
      return readShared(upstream, callerId);
    },
    record(upstream, callerId, retryAfterSeconds) {
      local.record(upstream, callerId, retryAfterSeconds);
      const lifetimeMs = Math.max(1, Math.round(retryAfterSeconds * 1000));
      stats.writes++;
      commands
        .eval(RECORD_SCRIPT, {
          keys: [throttleKey(upstream, callerId)],
          arguments: [String(lifetimeMs)],
        })
        .then(
          () => {
            connection.succeeded();
          },
          (error: unknown) => {
            connection.failed(error);
          },
        );
    },
    stats: () => ({ ...stats }),
  };
}
