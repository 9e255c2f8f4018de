import type { FailureKind } from '../errors.js';
import type { ProfileLoadResult } from '../profile-cache/load-profiles.js';
import type { Person } from '../upstreams/social-client.js';
import type { PermissionResult, UserPermissions } from '../upstreams/privacy-client.js';
import type { UpstreamOutcome } from '../upstreams/upstream-pipeline.js';
import type { PermissionId, ProfileSettingId, UpstreamName, Xuid } from '../xbl-vocabulary.js';

/** Why a card has or lacks a profile (API.md §3 rule 4). */
export type ProfileStatus = 'ok' | 'denied' | 'unavailable';

/** The caller's relationship to one player, from people/xuids. */
export interface Relationship {
  readonly inPeopleCollection: boolean;
  readonly isFavorite: boolean;
  readonly isFollowingCaller: boolean;
  readonly socialNetworks: readonly string[];
}

/** One friend card of the 200 response. */
export interface FriendCard {
  readonly xuid: Xuid;
  readonly relationship: Relationship | null;
  readonly profileStatus: ProfileStatus;
  readonly profile: Readonly<Partial<Record<ProfileSettingId, string | null>>> | null;
  readonly permissions: Readonly<Partial<Record<PermissionId, PermissionResult>>> | null;
}

/** One failed upstream part in `errors[]`. */
export interface PartError {
  readonly upstream: UpstreamName;
  readonly code: FailureKind;
  readonly status?: number;
}

/** The 200 response body. */
export interface FriendCardsResult {
  readonly cards: FriendCard[];
  readonly partial: boolean;
  readonly errors: PartError[];
}

/** A validated client request: XUIDs de-duplicated in request order, known ids only. */
export interface FriendCardsRequest {
  readonly xuids: readonly Xuid[];
  readonly settings: readonly ProfileSettingId[];
  /** What the client asked to see; `ViewTargetProfile` is checked either way. */
  readonly permissions: readonly PermissionId[];
}

/** What the three upstream parts gave for one request: the merge's whole input. */
export interface CardOutcomes {
  readonly social: UpstreamOutcome<readonly Person[]>;
  readonly profile: ProfileLoadResult;
  readonly privacy: UpstreamOutcome<readonly UserPermissions[]>;
  /** The permission list sent to privacy; its results are positional to it. */
  readonly checkedPermissions: readonly PermissionId[];
}
