import { LRUCache } from 'lru-cache';
import type { CacheEntry, ProfileCacheLevel } from './cache-level.js';
import type { ProfileCacheObserver } from './cache-observer.js';

/** Options of the in-process level; a byte bound is required (STYLE.md 23). */
export interface MemoryLevelOptions {
  readonly maxBytes: number;
  /** How long an entry is worth keeping at all: TTL plus stale window. */
  readonly lifetimeMs: number;
  /** The cache's clock in milliseconds. */
  readonly now: () => number;
  /** Told of every entry dropped to stay within `maxBytes`. */
  readonly observer?: Pick<ProfileCacheObserver, 'evicted'>;
}

/** Size of the in-process level, for `/readyz` and metrics. */
export interface ProfileCacheSize {
  readonly entries: number;
  readonly bytes: number;
}

/** The in-process level: its reads and writes finish at once, behind a resolved promise. */
export interface MemoryLevel extends ProfileCacheLevel {
  /** The entry of `key` now, without a promise: L1 is read synchronously on the hot path. */
  peek(key: string): CacheEntry | undefined;
  size(): ProfileCacheSize;
  clear(): void;
}

/** Rough per-entry overhead on top of key and value characters (Map slot, object, strings). */
const ENTRY_OVERHEAD_BYTES = 96;

/** Creates the L1 level: an lru-cache bounded in bytes that drops entries past their lifetime. */
export function createMemoryLevel(options: MemoryLevelOptions): MemoryLevel {
  const { maxBytes, lifetimeMs, now } = options;
  if (!Number.isInteger(maxBytes) || maxBytes <= 0) {
    throw new TypeError('Cannot create profile cache: maxBytes must be a positive integer');
  }
  // Ages are checked against `now` here rather than with lru-cache's own TTL, whose clock is
  // coarsened (`ttlResolution`) and treats a start time of 0 as "no TTL".
  const { observer } = options;
  const cache = new LRUCache<string, CacheEntry>({
    maxSize: maxBytes,
    sizeCalculation: (entry, key) => ENTRY_OVERHEAD_BYTES + 2 * (key.length + entry.value.length),
    // Only a drop for room is an eviction; a replaced or expired entry is not.
    ...(observer && {
      dispose: (_entry: CacheEntry, _key: string, reason: LRUCache.DisposeReason) => {
        if (reason === 'evict') observer.evicted(1);
      },
    }),
  });

  function read(key: string): CacheEntry | undefined {
    const entry = cache.get(key);
    if (entry === undefined || now() - entry.storedAtMs < lifetimeMs) return entry;
    cache.delete(key);
    return undefined;
  }

  return {
    get: (keys) => Promise.resolve(keys.map(read)),
    peek: read,
    set(entries) {
      for (const [key, entry] of entries) cache.set(key, entry);
      return Promise.resolve();
    },
    size: () => ({ entries: cache.size, bytes: cache.calculatedSize }),
    clear: () => {
      cache.clear();
    },
  };
}
