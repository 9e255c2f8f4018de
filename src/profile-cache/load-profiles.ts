import { startDeadline } from '../call-context.js';
import type { CallContext } from '../call-context.js';
import type { ProfileClient, ProfileUser } from '../upstreams/profile-client.js';
import { isCredentialRejection } from '../upstreams/upstream-batches.js';
import type { PartFailure } from '../upstreams/upstream-pipeline.js';
import type { ProfileSettingId, Xuid } from '../xbl-vocabulary.js';
import { NO_CACHE_OBSERVER } from './cache-observer.js';
import type { ProfileCacheObserver } from './cache-observer.js';
import { pairKey } from './profile-cache.js';
import type { PairKey, ProfileCache } from './profile-cache.js';
import type { PairResult, ProfileLoadsInFlight, SharedLoad } from './profile-loads.js';
import type { ProfileLeases } from './redis-leases.js';

/** Requested settings of one user; `null` where the profile service left a setting out. */
export type ProfileValues = ReadonlyMap<ProfileSettingId, string | null>;

/** The profile part of one request, from cache and upstream together. */
export interface ProfileLoadResult {
  /** Profiles that could be had; a XUID absent here has no trustworthy profile. */
  readonly profiles: ReadonlyMap<Xuid, ProfileValues>;
  /** Set when fetching failed for some XUID that no stale value covered. */
  readonly failure?: PartFailure | undefined;
}

/** Options of the profile loader. */
export interface ProfileLoaderOptions {
  readonly cache: ProfileCache;
  readonly client: ProfileClient;
  /** Deadline of a shared load, which outlives the caller that started it. */
  readonly fetchDeadlineMs: number;
  /** The per-process registry of loads in flight (`createDeps` owns it). */
  readonly inFlight: ProfileLoadsInFlight;
  /** Told of pairs that join a load in flight and of stale serves (metrics); nothing by default. */
  readonly observer?: Pick<ProfileCacheObserver, 'coalesced' | 'staleServed'>;
  /** Leases that keep replicas from fetching the same pairs at once; absent without Redis. */
  readonly leases?: ProfileLeases | undefined;
}

/** Serves profiles from cache and fetches only missing or stale (XUID, setting) pairs. */
export interface ProfileLoader {
  loadProfiles(
    xuids: readonly Xuid[],
    settings: readonly ProfileSettingId[],
    context: CallContext,
  ): Promise<ProfileLoadResult>;
  /** Pairs being loaded right now, for tests and metrics. */
  inFlightCount(): number;
}

/** One (XUID, setting) pair of a request, its key built once. */
interface Pair {
  readonly key: PairKey;
  readonly xuid: Xuid;
  readonly setting: ProfileSettingId;
}

/** What one pair ended with for this request, and the load that answered it. */
interface Settled {
  /** `undefined` when this request's deadline passed first. */
  readonly result: PairResult | undefined;
  readonly load: SharedLoad;
}

/** XUIDs that miss the same settings, fetched in one call; `pairs[i]` belongs to `xuids[i]`. */
interface FetchGroup {
  readonly settings: readonly ProfileSettingId[];
  readonly xuids: Xuid[];
  readonly pairs: (readonly Pair[])[];
}

const DEADLINE_PASSED: PartFailure = { kind: 'timeout' };

/** Creates the loader: coalescing in front of the tiered cache and the profile client. */
export function createProfileLoader(options: ProfileLoaderOptions): ProfileLoader {
  const { cache, client, fetchDeadlineMs, inFlight, leases } = options;
  const observer = options.observer ?? NO_CACHE_OBSERVER;

  function release(load: SharedLoad, keys: Iterable<PairKey>): void {
    for (const key of keys) if (inFlight.get(key) === load) inFlight.delete(key);
  }

  /** Registers `pairs` under a new load at once, then looks them up and fetches what is missing. */
  function startLoad(pairs: readonly Pair[], context: CallContext): SharedLoad {
    const deadline = startDeadline(fetchDeadlineMs);
    const lookedUp = Promise.withResolvers<undefined>();
    const done = Promise.withResolvers<undefined>();
    const load: SharedLoad = {
      authorization: context.authorization,
      results: new Map(),
      stale: new Map(),
      lookedUp: lookedUp.promise,
      done: done.promise,
    };
    for (const pair of pairs) if (!inFlight.has(pair.key)) inFlight.set(pair.key, load);
    // A shared load must not be cancelled because the client that started it went away: its
    // calls get the load's own deadline instead of the caller's signal.
    const loadContext: CallContext = {
      ...context,
      signal: deadline.signal,
      deadlineAtMs: deadline.deadlineAtMs,
    };
    runLoad(load, pairs, loadContext, () => {
      lookedUp.resolve(undefined);
    })
      .catch((error: unknown) => {
        // A pair left without a result counts as timed out for everyone waiting on it.
        context.logger.error({ err: error }, 'profile load failed');
      })
      .finally(() => {
        deadline.clear();
        release(
          load,
          pairs.map((pair) => pair.key),
        );
        lookedUp.resolve(undefined);
        done.resolve(undefined);
      });
    return load;
  }

  async function runLoad(
    load: SharedLoad,
    pairs: readonly Pair[],
    context: CallContext,
    markLookedUp: () => void,
  ): Promise<void> {
    const missing = await lookUp(load, pairs);
    markLookedUp();
    if (missing.length === 0) return;
    if (!leases) {
      await fetchPairs(load, missing, context, undefined);
      return;
    }
    // Another replica may be fetching the same pairs: fetch those whose lease this load takes,
    // wait for the others' results in Redis, and fetch what they did not bring.
    const claim = await leases.acquire(
      missing.map((pair) => pair.key),
      fetchDeadlineMs,
    );
    const held: Pair[] = [];
    const leasedElsewhere: Pair[] = [];
    for (const [index, pair] of missing.entries()) {
      (claim.held[index] === false ? leasedElsewhere : held).push(pair);
    }
    await Promise.all([
      fetchPairs(load, held, context, claim.token),
      leasedElsewhere.length > 0 ? fetchAfterLeases(leases, load, leasedElsewhere, context) : null,
    ]);
  }

  /**
   * Looks `pairs` up in the cache levels and records what they hold; returns the pairs left to
   * fetch. Fresh pairs are in L1 now: they are released, so later requests read them there
   * instead of waiting on fetches.
   */
  async function lookUp(load: SharedLoad, pairs: readonly Pair[]): Promise<Pair[]> {
    const cached = await cache.lookup(pairs.map((pair) => pair.key));
    const missing: Pair[] = [];
    const fresh: PairKey[] = [];
    for (const [index, pair] of pairs.entries()) {
      const found = cached[index];
      if (found?.state === 'fresh') {
        load.results.set(pair.key, { kind: 'value', value: found.value });
        fresh.push(pair.key);
        continue;
      }
      if (found?.state === 'stale') load.stale.set(pair.key, found.value);
      missing.push(pair);
    }
    release(load, fresh);
    return missing;
  }

  /**
   * Waits for the loads that lease `pairs` elsewhere, for at most half of what is left of the
   * deadline so that a fetch of its own still fits, then serves what they stored in Redis and
   * fetches the rest: a holder that failed, hung or died costs a wait, never an answer.
   */
  async function fetchAfterLeases(
    leaseLevel: ProfileLeases,
    load: SharedLoad,
    pairs: readonly Pair[],
    context: CallContext,
  ): Promise<void> {
    const startedAtMs = performance.now();
    const untilMs = startedAtMs + (context.deadlineAtMs - startedAtMs) / 2;
    const wait = await leaseLevel.waitForRelease(
      pairs.map((pair) => pair.key),
      untilMs,
    );
    // A Redis that failed the poll would fail the read too: fetch at once instead.
    const missing = wait === 'unavailable' ? pairs : await lookUp(load, pairs);
    await fetchPairs(load, missing, context, undefined);
  }

  /** One profile call per distinct set of missing settings, so no fresh pair goes upstream. */
  async function fetchPairs(
    load: SharedLoad,
    pairs: readonly Pair[],
    context: CallContext,
    leaseToken: string | undefined,
  ): Promise<void> {
    if (pairs.length === 0) return;
    const byXuid = new Map<Xuid, Pair[]>();
    for (const pair of pairs) {
      const own = byXuid.get(pair.xuid);
      if (own) own.push(pair);
      else byXuid.set(pair.xuid, [pair]);
    }
    const groups = new Map<string, FetchGroup>();
    for (const [xuid, own] of byXuid) {
      const settings = own.map((pair) => pair.setting);
      const id = settings.join(',');
      const group = groups.get(id);
      if (group) {
        group.xuids.push(xuid);
        group.pairs.push(own);
      } else {
        groups.set(id, { settings, xuids: [xuid], pairs: [own] });
      }
    }
    await Promise.all(
      [...groups.values()].map((group) => fetchGroup(load, group, context, leaseToken)),
    );
  }

  async function fetchGroup(
    load: SharedLoad,
    group: FetchGroup,
    context: CallContext,
    leaseToken: string | undefined,
  ) {
    const { xuids, settings } = group;
    const outcome = await client.getProfiles(xuids, settings, context);
    const fetched = outcome.ok ? pickAsked(outcome.value, xuids, settings) : undefined;
    const toStore: [PairKey, string][] = [];
    for (const [index, xuid] of xuids.entries()) {
      const user = fetched?.get(xuid);
      for (const { key, setting } of group.pairs[index] ?? []) {
        if (!outcome.ok) {
          load.results.set(key, { kind: 'failed', failure: outcome.failure });
        } else if (!user) {
          // A user absent from the answer is unknown to the profile service: no profile.
          load.results.set(key, { kind: 'absent' });
        } else {
          const value = user.get(setting);
          load.results.set(key, { kind: 'value', value: value ?? null });
          // A setting the service left out is not cached: it is asked again next time.
          if (value !== undefined) toStore.push([key, value]);
        }
      }
    }
    // L1 holds the values once `store` returns, so releasing the pairs afterwards never lets
    // a request in between miss; the shared levels finish in the background.
    const stored = cache.store(toStore).catch(() => undefined);
    // The leases go only once Redis holds the values (or the write gave up): a replica that
    // sees them gone finds the values there, or knows that it must fetch on its own.
    if (leases && leaseToken !== undefined) {
      const keys = group.pairs.flatMap((own) => own.map((pair) => pair.key));
      void stored.then(() => {
        leases.release(leaseToken, keys);
      });
    }
  }

  /** Joins loads in flight for `pairs` (when `mayJoin`) and starts one load for the rest. */
  function claim(
    pairs: readonly Pair[],
    context: CallContext,
    mayJoin: boolean,
  ): Map<SharedLoad, Pair[]> {
    const byLoad = new Map<SharedLoad, Pair[]>();
    const own: Pair[] = [];
    for (const pair of pairs) {
      const running = mayJoin ? inFlight.get(pair.key) : undefined;
      if (!running) {
        own.push(pair);
        continue;
      }
      const joined = byLoad.get(running);
      if (joined) joined.push(pair);
      else byLoad.set(running, [pair]);
    }
    if (own.length < pairs.length) observer.coalesced(pairs.length - own.length);
    if (own.length > 0) byLoad.set(startLoad(own, context), own);
    return byLoad;
  }

  /** Waits on each load for its pairs, until this request's deadline; records what each gave. */
  async function settle(
    byLoad: ReadonlyMap<SharedLoad, readonly Pair[]>,
    signal: AbortSignal,
    settled: Map<PairKey, Settled>,
  ): Promise<void> {
    await Promise.all(
      [...byLoad].map(async ([load, pairs]) => {
        const isLookedUp = await untilAborted(load.lookedUp, signal);
        if (isLookedUp && !pairs.every((pair) => load.results.has(pair.key))) {
          await untilAborted(load.done, signal);
        }
        for (const pair of pairs) {
          settled.set(pair.key, { result: load.results.get(pair.key), load });
        }
      }),
    );
  }

  async function loadProfiles(
    xuids: readonly Xuid[],
    settings: readonly ProfileSettingId[],
    context: CallContext,
  ): Promise<ProfileLoadResult> {
    // Pair i is setting i % settings.length of XUID ⌊i / settings.length⌋; keys built once.
    const keys: PairKey[] = [];
    for (const xuid of xuids) for (const setting of settings) keys.push(pairKey(xuid, setting));
    const inMemory = cache.freshInMemory(keys);
    const pending: Pair[] = [];
    for (const [index, value] of inMemory.entries()) {
      if (value !== undefined) continue;
      const xuid = xuids[Math.floor(index / settings.length)];
      const setting = settings[index % settings.length];
      if (xuid !== undefined && setting !== undefined) {
        pending.push({ key: keys[index] ?? '', xuid, setting });
      }
    }
    const settled = new Map<PairKey, Settled>();
    if (pending.length > 0) await loadPending(pending, context, settled);

    const profiles = new Map<Xuid, ProfileValues>();
    let failure: PartFailure | undefined;
    let staleServed = 0;
    let index = 0;
    for (const xuid of xuids) {
      const values = new Map<ProfileSettingId, string | null>();
      let isComplete = true;
      let staleValues = 0;
      for (const setting of settings) {
        const key = keys[index] ?? '';
        const fresh = inMemory[index++];
        if (fresh !== undefined) {
          values.set(setting, fresh);
          continue;
        }
        const { result, load } = settled.get(key) ?? {};
        if (result?.kind === 'value') {
          values.set(setting, result.value);
          continue;
        }
        if (result?.kind === 'absent') {
          isComplete = false;
          continue;
        }
        const pairFailure = result?.failure ?? DEADLINE_PASSED;
        const stale = load?.stale.get(key);
        // A rejected token fails the request (API.md §3 error table) rather than hiding behind
        // stale data; every other failure may fall back on it (API.md §5 rule 5).
        if (stale !== undefined && !isCredentialRejection(pairFailure)) {
          values.set(setting, stale);
          staleValues += 1;
          continue;
        }
        isComplete = false;
        // Keep a token rejection over other failures: it decides the whole answer.
        if (!failure || isCredentialRejection(pairFailure)) failure = pairFailure;
      }
      if (!isComplete) continue;
      profiles.set(xuid, values);
      staleServed += staleValues;
    }
    if (staleServed > 0) observer.staleServed(staleServed);
    return { profiles, failure };
  }

  /** Joins or starts loads for the pairs L1 could not answer, and waits on them. */
  async function loadPending(
    pending: readonly Pair[],
    context: CallContext,
    settled: Map<PairKey, Settled>,
  ): Promise<void> {
    await settle(claim(pending, context, true), context.signal, settled);
    // Someone else's token was rejected or throttled: ask again with this caller's own token.
    const retry = pending.filter((pair) => {
      const { result, load } = settled.get(pair.key) ?? {};
      return (
        result?.kind === 'failed' &&
        isCallerSpecific(result.failure) &&
        load?.authorization !== context.authorization
      );
    });
    if (retry.length > 0) await settle(claim(retry, context, false), context.signal, settled);
  }

  return { loadProfiles, inFlightCount: () => inFlight.size };
}

/** 401/403 speak of one token and throttling of one player: nothing about other callers. */
function isCallerSpecific(failure: PartFailure): boolean {
  return isCredentialRejection(failure) || failure.kind === 'throttled';
}

/** Resolves true once `promise` settles, or false once `signal` aborts, whichever is first. */
function untilAborted(promise: Promise<unknown>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    });
  });
}

/** Keeps only asked users and settings: data for anything else is ignored (API.md §5 rule 7). */
function pickAsked(
  users: readonly ProfileUser[],
  xuids: readonly Xuid[],
  settings: readonly ProfileSettingId[],
): Map<Xuid, Map<ProfileSettingId, string>> {
  const askedXuids = new Set<string>(xuids);
  const askedSettings = new Set<string>(settings);
  const fetched = new Map<Xuid, Map<ProfileSettingId, string>>();
  for (const user of users) {
    if (!askedXuids.has(user.id) || fetched.has(user.id)) continue;
    const values = new Map<ProfileSettingId, string>();
    for (const setting of user.settings) {
      if (askedSettings.has(setting.id) && !values.has(setting.id as ProfileSettingId)) {
        values.set(setting.id as ProfileSettingId, setting.value);
      }
    }
    fetched.set(user.id, values);
  }
  return fetched;
}
