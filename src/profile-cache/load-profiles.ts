import type { ProfileClient } from '../upstreams/profile-client.js';
import type { PartFailure, UpstreamOutcome } from '../upstreams/upstream-http.js';
import type { CallContext } from '../upstreams/xbl-headers.js';
import type { ProfileSettingId, Xuid } from '../xbl-vocabulary.js';
import type { ProfileCache } from './profile-cache.js';

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
  /** Deadline of a shared fetch, which outlives the caller that started it. */
  readonly fetchDeadlineMs: number;
}

/** Serves profiles from cache and fetches only missing or stale (XUID, setting) pairs. */
export interface ProfileLoader {
  loadProfiles(
    xuids: readonly Xuid[],
    settings: readonly ProfileSettingId[],
    context: CallContext,
  ): Promise<ProfileLoadResult>;
  /** Pairs being fetched right now, for tests and metrics. */
  inFlightCount(): number;
}

type FetchedProfiles = ReadonlyMap<Xuid, ReadonlyMap<ProfileSettingId, string>>;

/** One upstream fetch that concurrent requests may share. */
interface SharedFetch {
  /** Whose token it runs under: another caller must not inherit a 401/403/429 from it. */
  readonly authorization: string;
  readonly done: Promise<UpstreamOutcome<FetchedProfiles>>;
}

/** One (XUID, setting) pair and the fetch that will answer it. */
interface PairFetch {
  readonly xuid: Xuid;
  readonly setting: ProfileSettingId;
  readonly fetch: SharedFetch;
}

/** Outcome of waiting on a fetch: its result, or `undefined` when this request's deadline hit. */
type Waited = UpstreamOutcome<FetchedProfiles> | undefined;

const DEADLINE_PASSED: PartFailure = { kind: 'timeout' };

/** Creates the loader that owns in-flight coalescing in front of the profile client. */
export function createProfileLoader(options: ProfileLoaderOptions): ProfileLoader {
  const { cache, client, fetchDeadlineMs } = options;
  const inFlight = new Map<string, SharedFetch>();

  /** Starts one fetch of `settings` for `xuids`, stores what comes back, registers every pair. */
  function startFetch(
    xuids: readonly Xuid[],
    settings: readonly ProfileSettingId[],
    context: CallContext,
  ): SharedFetch {
    // A shared fetch must not be cancelled because the client that started it went away:
    // it gets its own deadline instead of the caller's signal.
    const fetchContext: CallContext = { ...context, signal: AbortSignal.timeout(fetchDeadlineMs) };
    const done = client.getProfiles(xuids, settings, fetchContext).then((outcome) => {
      if (!outcome.ok) return outcome;
      const fetched = pickAsked(outcome.value, xuids, settings);
      for (const [xuid, values] of fetched) cache.store(xuid, values);
      return { ok: true as const, value: fetched };
    });
    const shared: SharedFetch = { authorization: context.authorization, done };
    const keys = xuids.flatMap((xuid) => settings.map((setting) => pairKey(xuid, setting)));
    for (const key of keys) if (!inFlight.has(key)) inFlight.set(key, shared);
    void done.finally(() => {
      for (const key of keys) if (inFlight.get(key) === shared) inFlight.delete(key);
    });
    return shared;
  }

  /** Fetches the pairs in `needs`, joining fetches already in flight when `mayJoin`. */
  function fetchPairs(
    needs: ReadonlyMap<Xuid, readonly ProfileSettingId[]>,
    context: CallContext,
    mayJoin: boolean,
  ): Map<string, PairFetch> {
    const byPair = new Map<string, PairFetch>();
    const own = new Map<Xuid, ProfileSettingId[]>();
    for (const [xuid, settings] of needs) {
      for (const setting of settings) {
        const running = mayJoin ? inFlight.get(pairKey(xuid, setting)) : undefined;
        if (running) byPair.set(pairKey(xuid, setting), { xuid, setting, fetch: running });
        else own.set(xuid, [...(own.get(xuid) ?? []), setting]);
      }
    }
    // One call per distinct set of missing settings, so no fresh pair goes upstream again.
    const groups = new Map<string, { settings: ProfileSettingId[]; xuids: Xuid[] }>();
    for (const [xuid, settings] of own) {
      const group = groups.get(settings.join(','));
      if (group) group.xuids.push(xuid);
      else groups.set(settings.join(','), { settings, xuids: [xuid] });
    }
    for (const { settings, xuids } of groups.values()) {
      const fetch = startFetch(xuids, settings, context);
      for (const xuid of xuids) {
        for (const setting of settings)
          byPair.set(pairKey(xuid, setting), { xuid, setting, fetch });
      }
    }
    return byPair;
  }

  async function loadProfiles(
    xuids: readonly Xuid[],
    settings: readonly ProfileSettingId[],
    context: CallContext,
  ): Promise<ProfileLoadResult> {
    const lookups = new Map(xuids.map((xuid) => [xuid, cache.lookup(xuid, settings)]));
    const needs = new Map<Xuid, readonly ProfileSettingId[]>();
    for (const [xuid, lookup] of lookups) {
      if (lookup.missing.length > 0) needs.set(xuid, lookup.missing);
    }

    const outcomes = new Map<string, Waited>();
    const retryNeeds = await settlePairs(fetchPairs(needs, context, true), context, outcomes);
    if (retryNeeds.size > 0) {
      // Someone else's token was rejected or throttled: ask again with this caller's own token.
      await settlePairs(fetchPairs(retryNeeds, context, false), context, outcomes);
    }

    const profiles = new Map<Xuid, ProfileValues>();
    let failure: PartFailure | undefined;
    for (const [xuid, lookup] of lookups) {
      const values = new Map<ProfileSettingId, string | null>();
      let isComplete = true;
      for (const setting of settings) {
        const cached = lookup.fresh.get(setting);
        if (cached !== undefined) {
          values.set(setting, cached);
          continue;
        }
        const outcome = outcomes.get(pairKey(xuid, setting));
        if (outcome?.ok) {
          // A user absent from the answer is unknown to the profile service: no profile.
          const user = outcome.value.get(xuid);
          if (user) values.set(setting, user.get(setting) ?? null);
          else isComplete = false;
          continue;
        }
        const stale = lookup.stale.get(setting);
        // A rejected token fails the request (API.md §3 error table) rather than hiding behind
        // stale data; every other failure may fall back on it.
        if (stale !== undefined && !isCredentialRejection(outcome?.failure)) {
          values.set(setting, stale); // stale-if-error (API.md §5 rule 5)
          continue;
        }
        isComplete = false;
        // Keep a token rejection over other failures: it decides the whole answer.
        if (!failure || isCredentialRejection(outcome?.failure)) {
          failure = outcome?.failure ?? DEADLINE_PASSED;
        }
      }
      if (isComplete) profiles.set(xuid, values);
    }
    return { profiles, failure };
  }

  return { loadProfiles, inFlightCount: () => inFlight.size };
}

/**
 * Waits on every fetch a request depends on, until its deadline. Records each pair's outcome
 * and returns the pairs whose fetch failed for another caller's credentials.
 */
async function settlePairs(
  byPair: ReadonlyMap<string, PairFetch>,
  context: CallContext,
  outcomes: Map<string, Waited>,
): Promise<Map<Xuid, ProfileSettingId[]>> {
  const fetches = [...new Set([...byPair.values()].map((pair) => pair.fetch))];
  const settled = await Promise.all(
    fetches.map((fetch) => untilAborted(fetch.done, context.signal)),
  );
  const results = new Map(fetches.map((fetch, index) => [fetch, settled[index]]));
  const retry = new Map<Xuid, ProfileSettingId[]>();
  for (const [key, { xuid, setting, fetch }] of byPair) {
    const outcome = results.get(fetch);
    outcomes.set(key, outcome);
    const isOtherCallersFailure =
      outcome?.ok === false &&
      isCallerSpecific(outcome.failure) &&
      fetch.authorization !== context.authorization;
    if (isOtherCallersFailure) retry.set(xuid, [...(retry.get(xuid) ?? []), setting]);
  }
  return retry;
}

/** 401/403 speak of one token and throttling of one player: nothing about other callers. */
function isCallerSpecific(failure: PartFailure): boolean {
  return isCredentialRejection(failure) || failure.kind === 'throttled';
}

function isCredentialRejection(failure: PartFailure | undefined): boolean {
  return failure?.status === 401 || failure?.status === 403;
}

/** Resolves with the promise's value, or `undefined` once `signal` aborts, whichever is first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = () => {
      resolve(undefined);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then((value) => {
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
  });
}

/** Keeps only asked users and settings: data for anything else is ignored (API.md §5 rule 7). */
function pickAsked(
  users: readonly { id: string; settings: readonly { id: string; value: string }[] }[],
  xuids: readonly Xuid[],
  settings: readonly ProfileSettingId[],
): FetchedProfiles {
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

function pairKey(xuid: Xuid, setting: ProfileSettingId): string {
  return `${xuid}:${setting}`;
}
