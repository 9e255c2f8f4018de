import {
  AllUpstreamsFailedError,
  ThrottledError,
  UpstreamCredentialsRejectedError,
} from '../errors.js';
import type { FailureKind, GatewayError } from '../errors.js';
import type { PermissionResult, UserPermissions } from '../upstreams/privacy-client.js';
import type { Person } from '../upstreams/social-client.js';
import type { PartFailure } from '../upstreams/upstream-pipeline.js';
import { VIEW_PROFILE_PERMISSION } from '../xbl-vocabulary.js';
import type { PermissionId, UpstreamName, Xuid } from '../xbl-vocabulary.js';
import type {
  CardOutcomes,
  FriendCard,
  FriendCardsRequest,
  FriendCardsResult,
  PartError,
  ProfileStatus,
  Relationship,
} from './friend-card.js';

/** A XUID that the people answer did not list (API.md §3 rule 2). */
const NOT_IN_PEOPLE: Relationship = Object.freeze({
  inPeopleCollection: false,
  isFavorite: false,
  isFollowingCaller: false,
  socialNetworks: [],
});

/** The permissions privacy is asked: the client's, plus `ViewTargetProfile` which gates profiles. */
export function permissionsToCheck(asked: readonly PermissionId[]): PermissionId[] {
  return asked.includes(VIEW_PROFILE_PERMISSION) ? [...asked] : [...asked, VIEW_PROFILE_PERMISSION];
}

/**
 * Merges the three upstream outcomes into friend cards: one per requested XUID in request
 * order, privacy failing closed, `partial` and `errors[]` naming each failed part. Pure.
 */
export function mergeCards(request: FriendCardsRequest, outcomes: CardOutcomes): FriendCardsResult {
  const { social, profile, privacy, checkedPermissions } = outcomes;
  const asked = new Set<Xuid>(request.xuids);
  const people = social.ok ? indexPeople(social.value, asked) : undefined;
  const answers = privacy.ok
    ? indexPermissions(privacy.value, asked, checkedPermissions.length)
    : undefined;
  const viewIndex = checkedPermissions.indexOf(VIEW_PROFILE_PERMISSION);
  // Results are positional: where each asked permission sits in the list sent to privacy.
  const askedAt = request.permissions.map((id) => [id, checkedPermissions.indexOf(id)] as const);

  const cards = request.xuids.map((xuid): FriendCard => {
    const results = answers?.get(xuid);
    const values = profile.profiles.get(xuid);
    const profileStatus = decideProfileStatus(
      results?.[viewIndex]?.isAllowed,
      values !== undefined,
    );
    return {
      xuid,
      relationship: people ? (people.get(xuid) ?? NOT_IN_PEOPLE) : null,
      profileStatus,
      profile:
        profileStatus === 'ok' && values
          ? Object.fromEntries(
              request.settings.map((setting) => [setting, values.get(setting) ?? null]),
            )
          : null,
      permissions: results
        ? Object.fromEntries(askedAt.map(([id, index]) => [id, results[index]]))
        : null,
    };
  });

  const isPrivacyIncomplete = request.xuids.some((xuid) => answers?.has(xuid) === false);
  const errors: PartError[] = [];
  if (!social.ok) errors.push(partError('social', social.failure));
  if (profile.failure) errors.push(partError('profile', profile.failure));
  if (!privacy.ok) errors.push(partError('privacy', privacy.failure));
  else if (isPrivacyIncomplete) errors.push({ upstream: 'privacy', code: 'bad_response' });
  return { cards, partial: errors.length > 0, errors };
}

/**
 * The error that fails the whole request, if any: an upstream's 401/403 propagates, and when
 * every part failed the client gets 429 (throttled), 504 (all timed out) or 502. Pure.
 */
export function findRequestFailure(outcomes: CardOutcomes): GatewayError | undefined {
  const parts: [UpstreamName, PartFailure | undefined][] = [
    ['social', outcomes.social.ok ? undefined : outcomes.social.failure],
    ['profile', outcomes.profile.failure],
    ['privacy', outcomes.privacy.ok ? undefined : outcomes.privacy.failure],
  ];
  for (const [upstream, failure] of parts) {
    if (failure?.status === 401 || failure?.status === 403) {
      return new UpstreamCredentialsRejectedError(failure.status, upstream);
    }
  }
  const isProfileServed = outcomes.profile.profiles.size > 0 || !outcomes.profile.failure;
  const failures = parts.flatMap(([, failure]) => (failure ? [failure] : []));
  if (isProfileServed || failures.length < parts.length) return undefined;

  const throttled = failures.filter((failure) => failure.kind === 'throttled');
  if (throttled.length > 0) {
    const retryAfterSeconds = Math.max(...throttled.map((f) => f.retryAfterSeconds ?? 1));
    return new ThrottledError(
      retryAfterSeconds,
      'Cannot get friend cards: the upstreams throttled this caller',
    );
  }
  return new AllUpstreamsFailedError(failures.map((failure): FailureKind => failure.kind));
}

/** Privacy fails closed: no answer means no profile, and only `isAllowed: true` shows one. */
function decideProfileStatus(isAllowed: boolean | undefined, hasProfile: boolean): ProfileStatus {
  if (isAllowed === undefined) return 'unavailable';
  if (!isAllowed) return 'denied';
  return hasProfile ? 'ok' : 'unavailable';
}

function partError(upstream: UpstreamName, failure: PartFailure): PartError {
  return failure.status === undefined
    ? { upstream, code: failure.kind }
    : { upstream, code: failure.kind, status: failure.status };
}

/** Relationships of asked XUIDs; unasked entries are ignored, the first listing wins. */
function indexPeople(people: readonly Person[], asked: ReadonlySet<Xuid>): Map<Xuid, Relationship> {
  const byXuid = new Map<Xuid, Relationship>();
  for (const person of people) {
    if (!asked.has(person.xuid) || byXuid.has(person.xuid)) continue;
    byXuid.set(person.xuid, {
      inPeopleCollection: true,
      isFavorite: person.isFavorite ?? false,
      isFollowingCaller: person.isFollowingCaller ?? false,
      socialNetworks: person.socialNetworks ?? [],
    });
  }
  return byXuid;
}

/**
 * Trustworthy privacy answers of asked XUIDs. A user whose result count does not match the
 * asked permissions, or who is listed twice with different answers, is left out (fails closed).
 */
function indexPermissions(
  responses: readonly UserPermissions[],
  asked: ReadonlySet<Xuid>,
  permissionCount: number,
): Map<Xuid, readonly PermissionResult[]> {
  const byXuid = new Map<Xuid, readonly PermissionResult[]>();
  const untrusted = new Set<Xuid>();
  for (const { user, permissions } of responses) {
    const xuid = user.xuid;
    if (xuid === undefined || !asked.has(xuid) || untrusted.has(xuid)) continue;
    const earlier = byXuid.get(xuid);
    const isConsistent =
      permissions.length === permissionCount &&
      (earlier === undefined || JSON.stringify(earlier) === JSON.stringify(permissions));
    if (isConsistent) {
      byXuid.set(xuid, permissions);
    } else {
      byXuid.delete(xuid);
      untrusted.add(xuid);
    }
  }
  return byXuid;
}
