import type { RedisConnection } from '../redis/redis-connection.js';
import { REDIS_KEYS } from '../redis/redis-keys.js';
import type { CacheEntry, ProfileCacheLevel } from './cache-level.js';

/**
 * Where profile pairs live in Redis: `fcg:v1:profile:<xuid>:<setting>`. Only profile settings
 * are ever written under it, never privacy or people answers, tokens or userhashes (API.md §6
 * rule 3). A change of the key scheme bumps the `v1`.
 */
export const REDIS_KEY_PREFIX = REDIS_KEYS.profile;

/** The format version inside every value; a value of another version is a miss. */
export const VALUE_FORMAT_VERSION = 1;

/** Counters of the level, for tests and metrics. */
export interface RedisLevelStats {
  /** MGET round trips started. */
  readonly reads: number;
  /** Reads that timed out or failed: all their keys counted as misses. */
  readonly failedReads: number;
  /** Values found under a real key that did not parse (another format, garbage): misses. */
  readonly unreadableValues: number;
  /** SET pipelines started. */
  readonly writes: number;
  /** Pipelines that timed out or failed: their values are simply not shared. */
  readonly droppedWrites: number;
}

/** Options of the Redis level. */
export interface RedisLevelOptions {
  /** The process's one Redis connection; its commands are bounded by `REDIS_TIMEOUT_MS`. */
  readonly connection: RedisConnection;
  /** How long Redis keeps a value (PX): the cache's TTL plus its stale window. */
  readonly lifetimeMs: number;
  /** The cache's clock, in milliseconds: a value stored "in the future" counts as stored now. */
  readonly now?: () => number;
}

/** The shared second level of the profile cache, over the process's Redis connection. */
export interface RedisLevel extends ProfileCacheLevel {
  stats(): RedisLevelStats;
}

/** The Redis key of a profile cache pair key (`<xuid>:<setting>`). */
export function redisKey(pairKey: string): string {
  return REDIS_KEY_PREFIX + pairKey;
}

/** The stored form of an entry: its format version, fetch time and value. */
export function encodeEntry(entry: CacheEntry): string {
  return JSON.stringify({ v: VALUE_FORMAT_VERSION, at: entry.storedAtMs, value: entry.value });
}

/** An entry from its stored form; anything else (another version, garbage, wrong types) is a miss. */
export function decodeEntry(text: unknown): CacheEntry | undefined {
  if (typeof text !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { v, at, value } = parsed as Record<string, unknown>;
  if (v !== VALUE_FORMAT_VERSION || typeof value !== 'string') return undefined;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return undefined;
  return { value, storedAtMs: at };
}

/**
 * Creates the Redis level. Every read and write is bounded by `REDIS_TIMEOUT_MS` and counts as a
 * miss or a dropped write when Redis is down, slow or holds garbage (API.md §6 rule 2).
 */
export function createRedisLevel(options: RedisLevelOptions): RedisLevel {
  const { connection, lifetimeMs } = options;
  if (!Number.isInteger(lifetimeMs) || lifetimeMs < 0) {
    throw new TypeError('Cannot create Redis cache level: lifetimeMs must be a whole number');
  }
  const now = options.now ?? Date.now;
  const { commands } = connection;
  const stats = { reads: 0, failedReads: 0, unreadableValues: 0, writes: 0, droppedWrites: 0 };
  const succeeded = () => {
    connection.succeeded();
  };

  return {
    async get(keys) {
      if (keys.length === 0) return [];
      stats.reads++;
      let replies: readonly unknown[];
      try {
        replies = await commands.mGet(keys.map(redisKey));
      } catch (error) {
        stats.failedReads++;
        connection.failed(error);
        return [];
      }
      connection.succeeded();
      const nowMs = now();
      return replies.map((reply) => {
        if (reply === null) return undefined;
        const entry = decodeEntry(reply);
        if (entry === undefined) {
          stats.unreadableValues++;
          return undefined;
        }
        // Clocks of replicas differ a little; an entry never counts as fresher than new.
        return entry.storedAtMs <= nowMs ? entry : { value: entry.value, storedAtMs: nowMs };
      });
    },
    set(entries) {
      if (entries.length === 0 || lifetimeMs === 0) return Promise.resolve();
      stats.writes++;
      const pipeline = commands.multi();
      const expiration = { type: 'PX', value: lifetimeMs } as const;
      for (const [key, entry] of entries) {
        pipeline.set(redisKey(key), encodeEntry(entry), { expiration });
      }
      // Started here, settled in the background: callers do not wait, and it never rejects.
      return pipeline.execAsPipeline().then(succeeded, (error: unknown) => {
        stats.droppedWrites++;
        connection.failed(error);
      });
    },
    stats: () => ({ ...stats }),
  };
}
