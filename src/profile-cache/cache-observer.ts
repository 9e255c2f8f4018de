/**
 * What the profile cache reports, counted in (XUID, setting) pairs: plain callbacks, so that
 * profile-cache/ knows nothing of the metrics library. Hits, misses, stale serves and joins are
 * reported with their total per lookup (never zero), not once per pair.
 */
export interface ProfileCacheObserver {
  /** `count` pairs were found fresh at level `depth` (0 is the in-process L1). */
  hits(depth: number, count: number): void;
  /** `count` pairs that a request looked up were fresh at no level: they are fetched. */
  misses(count: number): void;
  /** `count` pairs were served past their TTL because fetching them failed (stale-if-error). */
  staleServed(count: number): void;
  /** L1 dropped `count` entries to stay within its byte bound. */
  evicted(count: number): void;
  /** `count` pairs joined a load already in flight instead of starting their own. */
  coalesced(count: number): void;
}

/** An observer that records nothing. */
export const NO_CACHE_OBSERVER: ProfileCacheObserver = Object.freeze({
  hits: () => undefined,
  misses: () => undefined,
  staleServed: () => undefined,
  evicted: () => undefined,
  coalesced: () => undefined,
});
