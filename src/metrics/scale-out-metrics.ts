import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { CallerRateLimitStats } from '../http/rate-limit.js';
import type { RedisLevelStats } from '../profile-cache/redis-level.js';
import type { ProfileLeaseStats } from '../profile-cache/redis-leases.js';
import type { SharedCallerThrottleStats } from '../upstreams/shared-caller-throttle.js';

/** Something whose counters the metrics read at scrape time. */
interface Counted<Stats> {
  stats(): Stats;
}

/** What the metrics read of the Redis connection: its state and its failure count. */
export interface MeasuredRedisConnection extends Counted<{ readonly failures: number }> {
  state(): 'ok' | 'degraded';
}

/**
 * The scale-out parts whose counters `/metrics` exports, each read at scrape time: the layers
 * keep plain integer counters, so the request path pays nothing for these series.
 */
export interface ScaleOutSources {
  /** The Redis connection and its users; absent without `REDIS_URL`. */
  readonly redis?:
    | {
        readonly connection: MeasuredRedisConnection;
        readonly cacheLevel: Counted<RedisLevelStats>;
        /** Absent when the leases are turned off. */
        readonly leases?: Counted<ProfileLeaseStats> | undefined;
        readonly throttle: Counted<SharedCallerThrottleStats>;
      }
    | undefined;
  /** The per-caller rate limit; absent when `RATE_LIMIT_PER_CALLER` is off. */
  readonly rateLimit?: Counted<CallerRateLimitStats> | undefined;
}

/** Registers the series of the parts that are there; a part that is not has no series at all. */
export function registerScaleOutMetrics(registers: Registry[], sources: ScaleOutSources): void {
  const { redis, rateLimit } = sources;
  if (rateLimit) {
    counterOf(
      registers,
      'http_requests_rate_limited_total',
      'Card requests answered 429 rate_limited: the caller was past RATE_LIMIT_PER_CALLER',
      () => rateLimit.stats().refused,
    );
    if (redis) {
      counterOf(
        registers,
        'http_rate_limit_counted_locally_total',
        'Card requests the rate limit counted in this process because Redis was degraded',
        () => rateLimit.stats().countedLocally,
      );
    }
  }
  if (!redis) return;

  const { connection, cacheLevel, leases, throttle } = redis;
  new Gauge({
    name: 'redis_up',
    help: 'Redis as /readyz shows it: 1 ok, 0 degraded (not connected, or its last operation failed)',
    registers,
    collect() {
      this.set(connection.state() === 'ok' ? 1 : 0);
    },
  });
  counterOf(
    registers,
    'redis_operations_failed_total',
    'Redis operations (commands, pipelines, scripts, health-check pings) that timed out or failed',
    () => connection.stats().failures,
  );

  const level = (help: string, read: (stats: RedisLevelStats) => number) => [help, read] as const;
  const levelSeries = {
    profile_cache_l2_reads_total: level(
      'Reads (one MGET each) of the Redis cache level',
      (s) => s.reads,
    ),
    profile_cache_l2_reads_failed_total: level(
      'Reads of the Redis cache level that timed out or failed: their pairs counted as not found',
      (s) => s.failedReads,
    ),
    profile_cache_l2_bad_values_total: level(
      'Values read from the Redis cache level that were not a profile entry: ignored, fetched again',
      (s) => s.unreadableValues,
    ),
    profile_cache_l2_writes_total: level(
      'Writes (one pipeline each) to the Redis cache level',
      (s) => s.writes,
    ),
    profile_cache_l2_writes_dropped_total: level(
      'Writes to the Redis cache level that timed out or failed: those pairs are not shared',
      (s) => s.droppedWrites,
    ),
  };
  for (const [name, [help, read]] of Object.entries(levelSeries)) {
    counterOf(registers, name, help, () => read(cacheLevel.stats()));
  }

  if (leases) {
    labelledCounterOf(
      registers,
      'profile_lease_pairs_total',
      'Pairs a profile load asked a lease for: taken (it fetches them) or contended (it waits)',
      'outcome',
      ['taken', 'contended'],
      () => {
        const stats = leases.stats();
        return { taken: stats.taken, contended: stats.contended };
      },
    );
    labelledCounterOf(
      registers,
      'profile_lease_waits_total',
      "Waits for other loads' leases, by how they ended: released, or timed_out (fetched anyway)",
      'outcome',
      ['released', 'timed_out'],
      () => {
        const stats = leases.stats();
        return { released: stats.released, timed_out: stats.timedOut };
      },
    );
    counterOf(
      registers,
      'profile_lease_unavailable_total',
      'Lease operations skipped or failed because Redis was degraded: the load fetched on its own',
      () => leases.stats().unavailable,
    );
  }

  const gate = (help: string, read: (stats: SharedCallerThrottleStats) => number) =>
    [help, read] as const;
  const gateSeries = {
    upstream_shared_throttle_reads_total: gate(
      'Shared throttle gates read from Redis before an upstream call',
      (s) => s.reads,
    ),
    upstream_shared_throttle_holds_total: gate(
      'Reads that found a gate set after a 429 (by any replica): the call was held back',
      (s) => s.heldByShared,
    ),
    upstream_shared_throttle_unavailable_total: gate(
      'Gate reads skipped or failed because Redis was degraded: the local gate alone decided',
      (s) => s.unavailable,
    ),
    upstream_shared_throttle_writes_total: gate(
      'Shared throttle gates written after an upstream 429',
      (s) => s.writes,
    ),
  };
  for (const [name, [help, read]] of Object.entries(gateSeries)) {
    counterOf(registers, name, help, () => read(throttle.stats()));
  }
}

/**
 * A counter that follows a total kept elsewhere: each scrape adds what the total grew by since
 * the last one, as prom-client's own `process_cpu_seconds_total` does. A counter cannot be set,
 * and the totals only grow.
 */
function counterOf(registers: Registry[], name: string, help: string, read: () => number): void {
  let exported = 0;
  new Counter({
    name,
    help,
    registers,
    collect() {
      const total = read();
      if (total > exported) {
        this.inc(total - exported);
        exported = total;
      }
    },
  });
}

/** `counterOf` for one label whose `values` are the keys `read` answers, each exported at 0. */
function labelledCounterOf<Value extends string>(
  registers: Registry[],
  name: string,
  help: string,
  labelName: string,
  values: readonly Value[],
  read: () => Readonly<Record<Value, number>>,
): void {
  const exported = new Map<Value, number>(values.map((value) => [value, 0]));
  const counter = new Counter({
    name,
    help,
    labelNames: [labelName],
    registers,
    collect() {
      const totals = read();
      for (const [value, before] of exported) {
        const total = totals[value];
        if (total > before) {
          this.inc({ [labelName]: value }, total - before);
          exported.set(value, total);
        }
      }
    },
  });
  for (const value of values) counter.inc({ [labelName]: value }, 0);
}
