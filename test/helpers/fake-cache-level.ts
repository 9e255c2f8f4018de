import type { CacheEntry, ProfileCacheLevel } from '../../src/profile-cache/cache-level.js';

/** A shared cache level in memory that answers after a delay and records what it was asked. */
export interface FakeCacheLevel extends ProfileCacheLevel {
  readonly entries: Map<string, CacheEntry>;
  /** The keys of every `get`, one array per call. */
  readonly gets: (readonly string[])[];
  /** The keys of every `set`, one array per call. */
  readonly sets: (readonly string[])[];
  /** Makes every later call reject, as a level that breaks its promise would. */
  fail(isFailing: boolean): void;
}

/** Creates a fake level whose reads and writes each take `delayMs`. */
export function createFakeCacheLevel(options: { readonly delayMs?: number } = {}): FakeCacheLevel {
  const entries = new Map<string, CacheEntry>();
  const gets: (readonly string[])[] = [];
  const sets: (readonly string[])[] = [];
  let isFailing = false;
  const after = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  return {
    entries,
    gets,
    sets,
    fail: (value) => {
      isFailing = value;
    },
    async get(keys) {
      gets.push([...keys]);
      await after(options.delayMs ?? 0);
      if (isFailing) throw new Error('Cannot read the fake level: it is failing');
      return keys.map((key) => entries.get(key));
    },
    async set(written) {
      sets.push(written.map(([key]) => key));
      if (isFailing) throw new Error('Cannot write the fake level: it is failing');
      for (const [key, entry] of written) entries.set(key, entry);
      await after(options.delayMs ?? 0);
    },
  };
}
