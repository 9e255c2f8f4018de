/** One cached profile setting value and when it was stored, on the cache's clock. */
export interface CacheEntry {
  readonly value: string;
  readonly storedAtMs: number;
}

/**
 * One level of the profile cache (L1 in process, later L2 shared): a store of entries by pair
 * key. Freshness is decided above the levels, on one clock, so a level only keeps and returns.
 * A level never throws: a level that cannot answer reports a miss.
 */
export interface ProfileCacheLevel {
  /** The entries of `keys`, in the same order; `undefined` where absent. One round trip. */
  get(keys: readonly string[]): Promise<readonly (CacheEntry | undefined)[]>;
  /** Stores `entries`; the work that makes an entry visible to `get` starts before it returns. */
  set(entries: readonly (readonly [string, CacheEntry])[]): Promise<void>;
}
