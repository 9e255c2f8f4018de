import type { PartFailure } from '../upstreams/upstream-pipeline.js';
import type { PairKey } from './profile-cache.js';

/** How one (XUID, setting) pair was answered. */
export type PairResult =
  /** From the cache or the profile service; `null` when the service left the setting out. */
  | { readonly kind: 'value'; readonly value: string | null }
  /** The profile service does not know this user: no profile. */
  | { readonly kind: 'absent' }
  | { readonly kind: 'failed'; readonly failure: PartFailure };

/**
 * One load of pairs (cache levels, then one profile call per distinct missing-settings set)
 * that concurrent requests share. It runs under the token of the request that started it and
 * with its own deadline, so one client hanging up cancels nothing others wait for.
 */
export interface SharedLoad {
  /** Whose token it runs under: another caller must not inherit a 401/403/429 from it. */
  readonly authorization: string;
  /** Results so far: fresh values once the levels answered, the rest once fetched. */
  readonly results: Map<PairKey, PairResult>;
  /** Values past their TTL, for stale-if-error; filled once the levels answered. */
  readonly stale: Map<PairKey, string>;
  /** Settles once the levels answered. */
  readonly lookedUp: Promise<void>;
  /** Settles once every pair has its result. */
  readonly done: Promise<void>;
}

/**
 * The loads in flight by pair key: per-process state, owned by `createDeps`. A pair is
 * registered before the first await of the request that claims it, so two concurrent misses
 * never both load it however slow a cache level is.
 */
export type ProfileLoadsInFlight = Map<PairKey, SharedLoad>;

/** Creates the empty registry of loads in flight. */
export function createProfileLoadsInFlight(): ProfileLoadsInFlight {
  return new Map();
}
