import type { ProfileSettingId, Xuid } from '../xbl-vocabulary.js';
import type { CacheEntry, ProfileCacheLevel } from './cache-level.js';
import { NO_CACHE_OBSERVER } from './cache-observer.js';
import type { ProfileCacheObserver } from './cache-observer.js';
import { createMemoryLevel } from './memory-level.js';
import type { ProfileCacheSize } from './memory-level.js';

/** Options of the profile cache; the in-process level's byte bound is required (STYLE.md 23). */
export interface ProfileCacheOptions {
  /** How long a stored setting is fresh. */
  readonly ttlMs: number;
  /** How long past `ttlMs` it may still be served when the profile upstream fails. */
  readonly staleMs: number;
  /** Bound of the in-process level (L1). */
  readonly maxBytes: number;
  /** Levels behind L1, nearest first (a shared Redis level). */
  readonly sharedLevels?: readonly ProfileCacheLevel[];
  /**
   * Clock in milliseconds; tests inject a fake one. Wall-clock by default, because a shared
   * level carries an entry's time to other processes.
   */
  readonly now?: () => number;
  /** Told of hits per level, misses and L1 evictions (metrics); nothing by default. */
  readonly observer?: ProfileCacheObserver;
}

/** The key of one (XUID, setting) pair: the unit the cache and the coalescing work on. */
export type PairKey = string;

/** What the cache holds for one pair. */
export type CachedPair =
  | { readonly state: 'fresh'; readonly value: string }
  /** Past its TTL but within the stale window: fetch anew, fall back on it on error. */
  | { readonly state: 'stale'; readonly value: string }
  | { readonly state: 'missing' };

/**
 * Profile settings keyed per (XUID, setting id), over an ordered list of levels. Only profile
 * data lives here: privacy and people answers are never cached (API.md §3 rule 4).
 */
export interface ProfileCache {
  /** What the levels hold for `keys`, in the same order; later levels answer only L1's misses. */
  lookup(keys: readonly PairKey[]): Promise<readonly CachedPair[]>;
  /**
   * The fresh values L1 holds for `keys` right now, `undefined` elsewhere: no promise and no
   * await, so a hot request is served before it registers anything for coalescing.
   */
  freshInMemory(keys: readonly PairKey[]): (string | undefined)[];
  /** Stores fetched values in every level. L1 holds them once this returns, before it settles. */
  store(values: readonly (readonly [PairKey, string])[]): Promise<void>;
  /** Size of the in-process level. */
  size(): ProfileCacheSize;
  /** Empties the in-process level. */
  clear(): void;
}

const MISSING: CachedPair = Object.freeze({ state: 'missing' });

/** The key of `setting` of `xuid`. */
export function pairKey(xuid: Xuid, setting: ProfileSettingId): PairKey {
  return `${xuid}:${setting}`;
}

/** Creates the tiered cache: L1 in process (lru-cache, byte bound), then any shared levels. */
export function createProfileCache(options: ProfileCacheOptions): ProfileCache {
  const { ttlMs, staleMs } = options;
  if (!Number.isInteger(ttlMs) || ttlMs < 0 || !Number.isInteger(staleMs) || staleMs < 0) {
    throw new TypeError('Cannot create profile cache: ttlMs and staleMs must be whole numbers');
  }
  const now = options.now ?? Date.now;
  const observer = options.observer ?? NO_CACHE_OBSERVER;
  const lifetimeMs = ttlMs + staleMs;
  const memory = createMemoryLevel({ maxBytes: options.maxBytes, lifetimeMs, now, observer });
  const levels: readonly ProfileCacheLevel[] = [memory, ...(options.sharedLevels ?? [])];

  function judge(entry: CacheEntry | undefined, nowMs: number): CachedPair {
    if (entry === undefined) return MISSING;
    const ageMs = nowMs - entry.storedAtMs;
    if (ageMs < ttlMs) return { state: 'fresh', value: entry.value };
    return ageMs < lifetimeMs ? { state: 'stale', value: entry.value } : MISSING;
  }

  async function lookup(keys: readonly PairKey[]): Promise<readonly CachedPair[]> {
    const found: CachedPair[] = new Array<CachedPair>(keys.length).fill(MISSING);
    let pending = keys.map((_, index) => index);
    for (const [depth, level] of levels.entries()) {
      if (pending.length === 0) break;
      const entries = await readLevel(
        level,
        depth === 0 ? keys : pending.map((i) => keys[i] ?? ''),
      );
      const nowMs = now();
      const stillPending: number[] = [];
      const promoted: [PairKey, CacheEntry][] = [];
      let hits = 0;
      for (const [j, index] of pending.entries()) {
        const entry = entries[j];
        const pair = judge(entry, nowMs);
        if (pair.state === 'fresh' && entry) {
          found[index] = pair;
          hits += 1;
          if (depth > 0) promoted.push([keys[index] ?? '', entry]);
          continue;
        }
        if (pair.state === 'stale' && found[index]?.state !== 'stale') found[index] = pair;
        stillPending.push(index);
      }
      if (hits > 0) observer.hits(depth, hits);
      // A fresh answer from a farther level is copied into the nearer ones, keeping its age.
      if (promoted.length > 0)
        await Promise.all(levels.slice(0, depth).map((l) => l.set(promoted)));
      pending = stillPending;
    }
    if (pending.length > 0) observer.misses(pending.length);
    return found;
  }

  function freshInMemory(keys: readonly PairKey[]): (string | undefined)[] {
    const nowMs = now();
    let hits = 0;
    const values = keys.map((key) => {
      const entry = memory.peek(key);
      if (entry === undefined || nowMs - entry.storedAtMs >= ttlMs) return undefined;
      hits += 1;
      return entry.value;
    });
    // Only hits: a pair not fresh here is looked up again (or joins a load) and counted there.
    if (hits > 0) observer.hits(0, hits);
    return values;
  }

  return {
    lookup,
    freshInMemory,
    async store(values) {
      if (lifetimeMs === 0 || values.length === 0) return;
      const storedAtMs = now();
      const entries = values.map(([key, value]) => [key, { value, storedAtMs }] as const);
      await writeLevels(levels, entries);
    },
    size: () => memory.size(),
    clear: () => {
      memory.clear();
    },
  };
}

/** A level's entries; a level that fails anyway counts as a miss, never as a failed request. */
async function readLevel(
  level: ProfileCacheLevel,
  keys: readonly PairKey[],
): Promise<readonly (CacheEntry | undefined)[]> {
  try {
    return await level.get(keys);
  } catch {
    return [];
  }
}

/** Writes `entries` to `levels`, all started at once; a failed write is only a later miss. */
async function writeLevels(
  levels: readonly ProfileCacheLevel[],
  entries: readonly (readonly [PairKey, CacheEntry])[],
): Promise<void> {
  await Promise.all(levels.map((level) => level.set(entries).catch(() => undefined)));
}
