import type { CallContext } from '../call-context.js';
import type { ProfileLoader } from '../profile-cache/load-profiles.js';
import type { PrivacyClient } from '../upstreams/privacy-client.js';
import type { SocialClient } from '../upstreams/social-client.js';
import type { FriendCardsRequest, FriendCardsResult } from './friend-card.js';
import { findRequestFailure, mergeCards, permissionsToCheck } from './merge-cards.js';

/** What the use case calls: the two uncached upstreams and the cached profile loader. */
export interface FriendCardsDeps {
  readonly social: SocialClient;
  readonly privacy: PrivacyClient;
  readonly profiles: ProfileLoader;
}

/**
 * Gets friend cards: the social, profile (through the cache) and privacy calls start at once,
 * all three settle (the request deadline in `context.signal` bounds them), then they merge.
 * Throws a `GatewayError` only when the whole request fails.
 */
export async function getFriendCards(
  request: FriendCardsRequest,
  context: CallContext,
  deps: FriendCardsDeps,
): Promise<FriendCardsResult> {
  const checkedPermissions = permissionsToCheck(request.permissions);
  const [social, profile, privacy] = await Promise.all([
    deps.social.getPeople(request.xuids, context),
    deps.profiles.loadProfiles(request.xuids, request.settings, context),
    deps.privacy.validatePermissions(request.xuids, checkedPermissions, context),
  ]);
  const outcomes = { social, profile, privacy, checkedPermissions };
  const failure = findRequestFailure(outcomes);
  if (failure) throw failure;
  return mergeCards(request, outcomes);
}
