import { z } from 'zod';
import { FAILURE_KINDS } from '../errors.js';
import type { ProfileLoadResult } from '../profile-cache/load-profiles.js';
import type { Person } from '../upstreams/social-client.js';
import { permissionResultSchema } from '../upstreams/privacy-client.js';
import type { UserPermissions } from '../upstreams/privacy-client.js';
import type { UpstreamOutcome } from '../upstreams/upstream-pipeline.js';
import {
  DECIMAL_XUID,
  PERMISSION_IDS,
  PROFILE_SETTING_IDS,
  UPSTREAM_NAMES,
} from '../xbl-vocabulary.js';
import type { PermissionId, ProfileSettingId, Xuid } from '../xbl-vocabulary.js';

/** Why a card has or lacks a profile (API.md §3 rule 4). */
export const profileStatusSchema = z.enum(['ok', 'denied', 'unavailable']).meta({
  description:
    'ok: profile present; denied: privacy said no; unavailable: no trustworthy profile or no privacy answer',
});

/** Why a card has or lacks a profile. */
export type ProfileStatus = z.infer<typeof profileStatusSchema>;

/** The caller's relationship to one player, from people/xuids (API.md §3 rule 2). */
export const relationshipSchema = z
  .object({
    inPeopleCollection: z.boolean(),
    isFavorite: z.boolean(),
    isFollowingCaller: z.boolean(),
    socialNetworks: z.array(z.string()),
  })
  .meta({
    description:
      "The caller's relationship to the player; all false and no networks when the player is not in the caller's people list",
  });

/** The caller's relationship to one player. */
export type Relationship = Readonly<z.infer<typeof relationshipSchema>>;

/** One friend card of the 200 response (API.md §3). */
export const friendCardSchema = z.object({
  xuid: z.string().regex(DECIMAL_XUID),
  relationship: relationshipSchema
    .nullable()
    .meta({ description: 'null when the social service failed' }),
  profileStatus: profileStatusSchema,
  profile: z.partialRecord(z.enum(PROFILE_SETTING_IDS), z.string().nullable()).nullable().meta({
    description:
      "Exactly the requested settings, as the profile service gave them (a setting it left out is null); null unless this request's privacy answer allows ViewTargetProfile",
  }),
  permissions: z.partialRecord(z.enum(PERMISSION_IDS), permissionResultSchema).nullable().meta({
    description:
      'One entry per asked permission, as the privacy service gave it; null when the privacy service failed',
  }),
});

/** One friend card of the 200 response. */
export type FriendCard = Readonly<z.infer<typeof friendCardSchema>>;

/** One failed upstream part in `errors[]` (API.md §3 rule 6). */
export const partErrorSchema = z.object({
  upstream: z.enum(UPSTREAM_NAMES),
  code: z.enum(FAILURE_KINDS),
  status: z
    .int()
    .min(100)
    .max(599)
    .optional()
    .meta({ description: 'The status of a non-200 upstream answer; absent when none was had' }),
});

/** One failed upstream part in `errors[]`. */
export type PartError = Readonly<z.infer<typeof partErrorSchema>>;

/** The 200 response body of `GET /friends-with-profiles`. */
export const friendCardsResultSchema = z.object({
  cards: z
    .array(friendCardSchema)
    .meta({ description: 'One card per requested XUID, in request order, duplicates removed' }),
  partial: z.boolean().meta({ description: 'true when any upstream part is missing' }),
  errors: z
    .array(partErrorSchema)
    .meta({ description: 'One entry per failed upstream part; empty when partial is false' }),
});

/** The 200 response body. */
export type FriendCardsResult = Readonly<z.infer<typeof friendCardsResultSchema>>;

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
