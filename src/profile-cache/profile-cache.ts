import { LRUCache } from 'lru-cache';
import type { ProfileSettingId, Xuid } from '../xbl-vocabulary.js';

/** Options of the in-process profile cache; a byte bound is required (STYLE.md 23). */
export interface ProfileCacheOptions {
  /** How long a stored setting is fresh. */
  readonly ttlMs: number;
  /** How long past `ttlMs` it may still be served when the profile upstream fails. */
  readonly staleMs: number;
  readonly maxBytes: number;
  /** Clock in milliseconds; tests inject a fake one. */
  readonly now?: () => number;
}

/** What the cache holds for one XUID and the asked settings. */
export interface ProfileLookup {
  /** Settings whose values are fresh. */
  readonly fresh: ReadonlyMap<ProfileSettingId, string>;
  /** Settings past their TTL but within the stale window: fetch anew, fall back on error. */
  readonly stale: ReadonlyMap<ProfileSettingId, string>;
  /** Settings that must be fetched: stale ones and absent ones. */
  readonly missing: readonly ProfileSettingId[];
}

/** Size of the cache, for `/readyz` and metrics. */
export interface ProfileCacheSize {
  readonly entries: number;
  readonly bytes: number;
}

/**
 * Profile settings keyed per (XUID, setting id). Only profile data lives here: privacy and
 * people answers are never cached (API.md §3 rule 4). A shared second level (Redis) can sit
 * behind `lookup`/`store` without changing the loader's rules.
 */
export interface ProfileCache {
  lookup(xuid: Xuid, settings: readonly ProfileSettingId[]): ProfileLookup;
  store(xuid: Xuid, values: ReadonlyMap<ProfileSettingId, string>): void;
  size(): ProfileCacheSize;
  clear(): void;
}

interface Entry {
  readonly value: string;
  readonly storedAtMs: number;
}

/** Rough per-entry overhead on top of key and value characters (Map slot, object, strings). */
const ENTRY_OVERHEAD_BYTES = 96;

/** Creates the in-process LRU level, bounded in bytes, with a TTL plus a stale window. */
export function createProfileCache(options: ProfileCacheOptions): ProfileCache {
  const { ttlMs, staleMs, maxBytes } = options;
  if (!Number.isInteger(maxBytes) || maxBytes <= 0) {
    throw new TypeError('Cannot create profile cache: maxBytes must be a positive integer');
  }
  if (!Number.isInteger(ttlMs) || ttlMs < 0 || !Number.isInteger(staleMs) || staleMs < 0) {
    throw new TypeError('Cannot create profile cache: ttlMs and staleMs must be whole numbers');
  }
  const now = options.now ?? (() => performance.now());
  const lifetimeMs = ttlMs + staleMs;
  // Ages are checked against `now` here rather than with lru-cache's own TTL, whose clock is
  // coarsened (`ttlResolution`) and treats a start time of 0 as "no TTL".
  const cache = new LRUCache<string, Entry>({
    maxSize: maxBytes,
    sizeCalculation: (entry, key) => ENTRY_OVERHEAD_BYTES + 2 * (key.length + entry.value.length),
  });

  return {
    lookup(xuid, settings) {
      const fresh = new Map<ProfileSettingId, string>();
      const stale = new Map<ProfileSettingId, string>();
      const missing: ProfileSettingId[] = [];
      const nowMs = now();
      for (const setting of settings) {
        const key = keyOf(xuid, setting);
        const entry = cache.get(key);
        const ageMs = entry === undefined ? Infinity : nowMs - entry.storedAtMs;
        if (entry !== undefined && ageMs < ttlMs) {
          fresh.set(setting, entry.value);
          continue;
        }
        if (entry !== undefined && ageMs < lifetimeMs) stale.set(setting, entry.value);
        else if (entry !== undefined) cache.delete(key);
        missing.push(setting);
      }
      return { fresh, stale, missing };
    },
    store(xuid, values) {
      if (lifetimeMs === 0) return;
      const storedAtMs = now();
      for (const [setting, value] of values) {
        cache.set(keyOf(xuid, setting), { value, storedAtMs });
      }
    },
    size: () => ({ entries: cache.size, bytes: cache.calculatedSize }),
    clear: () => {
      cache.clear();
    },
  };
}

function keyOf(xuid: Xuid, setting: ProfileSettingId): string {
  return `${xuid}:${setting}`;
}
