/** Profile setting ids the profile service knows (UPSTREAMS.md §1). */
export const PROFILE_SETTING_IDS = [
  'GameDisplayName',
  'GameDisplayPicRaw',
  'Gamerscore',
  'Gamertag',
  'AppDisplayName',
  'AppDisplayPicRaw',
  'AccountTier',
  'TenureLevel',
  'XboxOneRep',
  'PreferredColor',
  'Bio',
  'Location',
  'RealName',
  'RealNameOverride',
  'ModernGamertag',
  'ModernGamertagSuffix',
  'UniqueModernGamertag',
  'Watermarks',
  'IsQuarantined',
] as const;

/** Permission ids the privacy service knows (UPSTREAMS.md §3). */
export const PERMISSION_IDS = [
  'CommunicateUsingText',
  'CommunicateUsingVideo',
  'CommunicateUsingVoice',
  'ViewTargetProfile',
  'ViewTargetGameHistory',
  'ViewTargetVideoHistory',
  'ViewTargetMusicHistory',
  'ViewTargetExerciseInfo',
  'ViewTargetPresence',
  'ViewTargetVideoStatus',
  'ViewTargetMusicStatus',
  'PlayMultiplayer',
  'ViewTargetUserCreatedContent',
  'BroadcastWithTwitch',
  'WriteComment',
  'ShareItem',
  'ShareTargetContentToExternalNetworks',
] as const;

/** A profile setting id from the known list. */
export type ProfileSettingId = (typeof PROFILE_SETTING_IDS)[number];

/** A permission id from the known list. */
export type PermissionId = (typeof PERMISSION_IDS)[number];

/** XUIDs travel as decimal strings; this is a 64-bit unsigned XUID with no sign or leading zero. */
export type Xuid = string;

/** The form of a XUID: 1-20 ASCII digits, no sign, no leading zero (API.md §3). */
export const DECIMAL_XUID = /^[1-9][0-9]{0,19}$/;

/** The permission that decides whether a profile may be shown (API.md §3 rule 4). */
export const VIEW_PROFILE_PERMISSION: PermissionId = 'ViewTargetProfile';

/** Settings asked when the client names none (API.md §3). */
export const DEFAULT_SETTINGS: readonly ProfileSettingId[] = [
  'GameDisplayName',
  'GameDisplayPicRaw',
  'Gamerscore',
  'Gamertag',
];

/** The three upstream services by the names `errors[].upstream` uses. */
export const UPSTREAM_NAMES = ['social', 'profile', 'privacy'] as const;

/** One of the three upstream services. */
export type UpstreamName = (typeof UPSTREAM_NAMES)[number];
