import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisConnection } from '../redis/redis-connection.js';
import { REDIS_KEYS } from '../redis/redis-keys.js';
import type { PairKey } from './profile-cache.js';

/** How often a waiting load asks Redis whether the leases it waits on are gone. */
const POLL_INTERVAL_MS = 10;

/**
 * Takes the lease of every key that nobody holds, in one round trip: `SET key token NX PX ms`
 * per key, answering 1 where this load took it and 0 where another load holds it.
 */
const ACQUIRE_SCRIPT = `local taken = {}
for i, key in ipairs(KEYS) do
  taken[i] = redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
end
return taken`;

/** Deletes the keys that still hold this load's token, and only those. */
const RELEASE_SCRIPT = `local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then released = released + redis.call('DEL', key) end
end
return released`;

/** What one load holds: its token, and per key whether the lease is its own. */
export interface LeaseClaim {
  readonly token: string;
  /** `held[i]` for `keys[i]`; every key counts as held when Redis could not answer. */
  readonly held: readonly boolean[];
}

/** How a wait for other loads' leases ended. */
export type LeaseWait = 'released' | 'timed_out' | 'unavailable';

/** Counters of the leases, for tests and metrics. */
export interface ProfileLeaseStats {
  /** Pairs whose lease a load took: it fetches them. */
  readonly taken: number;
  /** Pairs leased by another load (in another replica) when asked: the load waited for them. */
  readonly contended: number;
  /** Waits that ended because every lease was released or expired. */
  readonly released: number;
  /** Waits that reached their bound first: the load fetched on its own. */
  readonly timedOut: number;
  /** Lease operations skipped, timed out or failed because Redis was degraded. */
  readonly unavailable: number;
}

/**
 * Short leases on (XUID, setting) pairs that keep replicas from fetching the same profiles at
 * once (API.md §6 rule 3). A lease key names only the pair, its value is a random per-load token;
 * no caller, token or userhash is in either. Redis degraded, slow or down means no lease: each
 * replica fetches on its own, as without Redis.
 */
export interface ProfileLeases {
  /** Takes the free leases of `keys` for `holdMs`. */
  acquire(keys: readonly PairKey[], holdMs: number): Promise<LeaseClaim>;
  /** Polls until no lease of `keys` is held, or until `untilMs` (`performance.now()` clock). */
  waitForRelease(keys: readonly PairKey[], untilMs: number): Promise<LeaseWait>;
  /** Releases the leases of `keys` that still hold `token`, in the background. */
  release(token: string, keys: readonly PairKey[]): void;
  stats(): ProfileLeaseStats;
}

/** The Redis key of a pair's lease: `fcg:v1:lease:<xuid>:<setting>`. */
export function leaseKey(pairKey: PairKey): string {
  return REDIS_KEYS.lease + pairKey;
}

/** Creates the leases over the process's Redis connection. */
export function createRedisLeases(connection: RedisConnection): ProfileLeases {
  const { commands } = connection;
  // One random id per process, made once; a load's token is it plus a counter.
  const processId = randomUUID();
  let loads = 0;
  const stats = { taken: 0, contended: 0, released: 0, timedOut: 0, unavailable: 0 };

  function allHeld(token: string, count: number): LeaseClaim {
    stats.unavailable++;
    stats.taken += count;
    return { token, held: new Array<boolean>(count).fill(true) };
  }

  return {
    async acquire(keys, holdMs) {
      const token = `${processId}:${String(++loads)}`;
      // A degraded Redis would cost a timeout per miss: fetch on our own until it recovers.
      if (connection.state() !== 'ok') return allHeld(token, keys.length);
      let replies: unknown;
      try {
        replies = await commands.eval(ACQUIRE_SCRIPT, {
          keys: keys.map(leaseKey),
          arguments: [token, String(holdMs)],
        });
      } catch (error) {
        connection.failed(error);
        return allHeld(token, keys.length);
      }
      connection.succeeded();
      if (!Array.isArray(replies) || replies.length !== keys.length) {
        return allHeld(token, keys.length);
      }
      const held = replies.map((reply) => reply !== 0);
      for (const isHeld of held) {
        if (isHeld) stats.taken++;
        else stats.contended++;
      }
      return { token, held };
    },
    async waitForRelease(keys, untilMs) {
      const leaseKeys = keys.map(leaseKey);
      for (;;) {
        const leftMs = untilMs - performance.now();
        if (leftMs <= 0) {
          stats.timedOut++;
          return 'timed_out';
        }
        await sleep(Math.min(POLL_INTERVAL_MS, leftMs));
        let leased: number;
        try {
          leased = await commands.exists(leaseKeys);
        } catch (error) {
          connection.failed(error);
          stats.unavailable++;
          return 'unavailable';
        }
        connection.succeeded();
        if (leased === 0) {
          stats.released++;
          return 'released';
        }
      }
    },
    release(token, keys) {
      if (keys.length === 0) return;
      commands.eval(RELEASE_SCRIPT, { keys: keys.map(leaseKey), arguments: [token] }).then(
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
