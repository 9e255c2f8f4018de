import { mulberry32 } from './random.js';

/** Profile setting ids the profile service knows (`UPSTREAMS.md` §1). */
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

/** One profile setting id. */
export type ProfileSettingId = (typeof PROFILE_SETTING_IDS)[number];

/** Permission ids the privacy service knows (`UPSTREAMS.md` §3). */
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

/** One permission id. */
export type PermissionId = (typeof PERMISSION_IDS)[number];

/** How a target treats a given caller; decides the privacy answers between the two. */
export const TARGET_STANCES = [
  'none',
  'blocks',
  'hidesProfile',
  'deniesProfileViewing',
  'deniesCommunication',
  'mutes',
  'deniesMultiplayer',
] as const;

/** One stance of a target toward a caller. */
export type TargetStance = (typeof TARGET_STANCES)[number];

/** One `{ id, value }` entry of a profile answer; the value is always a string. */
export interface ProfileSetting {
  readonly id: ProfileSettingId;
  readonly value: string;
}

/** A synthetic player: XUID and the profile settings it has (optional ones may be absent). */
export interface SimulatedUser {
  readonly xuid: string;
  readonly settings: Readonly<Partial<Record<ProfileSettingId, ProfileSetting>>>;
}

/** One entry of a people answer, shaped as the social service sends it. */
export interface Person {
  readonly xuid: string;
  readonly isFavorite: boolean;
  readonly isFollowingCaller?: boolean;
  readonly socialNetworks?: readonly string[];
}

/** One deny reason of a privacy answer. */
export interface DenyReason {
  readonly reason: string;
  readonly restrictedSetting?: string;
}

/** One permission result of a privacy answer. */
export interface PermissionResult {
  readonly isAllowed: boolean;
  readonly reasons?: readonly DenyReason[];
}

/** A ready-made request for demos: a caller, its Authorization value and XUIDs worth asking. */
export interface ExampleRequest {
  readonly userhash: string;
  readonly authorization: string;
  readonly callerXuid: string;
  /** About ten XUIDs: people of the caller, a blocker, a hidden profile, a XUID above 2^53. */
  readonly xuids: readonly string[];
}

/** Options of `findTarget`. */
export interface FindTargetOptions {
  /** true: only people in the caller's collection; false: only others; absent: anyone. */
  readonly isInPeople?: boolean;
}

/** A deterministic synthetic population: the same seed and size always give the same players. */
export interface Population {
  readonly seed: number;
  readonly size: number;
  /** The population's XUIDs above 2^53 (they lose precision as JS numbers). */
  readonly largeXuids: readonly string[];
  /** The XUID of the player at `index` (0 ≤ index < size). */
  xuidAt(index: number): string;
  /** The player with this XUID, or undefined when there is none. */
  user(xuid: string): SimulatedUser | undefined;
  /** The player a userhash signs in as (a hash of it picks one). */
  callerFor(userhash: string): string;
  /** The caller's people collection, keyed by XUID, in a fixed order. */
  peopleOf(callerXuid: string): ReadonlyMap<string, Person>;
  /** How the target treats the caller; 'none' for unknown XUIDs and for the caller itself. */
  stanceOf(callerXuid: string, targetXuid: string): TargetStance;
  /** The privacy answer for one permission of the caller over the target. */
  permission(callerXuid: string, targetXuid: string, permissionId: PermissionId): PermissionResult;
  /** The first player (in a fixed order) with this stance toward the caller, if any. */
  findTarget(
    callerXuid: string,
    stance: TargetStance,
    options?: FindTargetOptions,
  ): string | undefined;
  /** A working Authorization value and XUIDs that show ok, denied and missing cards. */
  exampleRequest(): ExampleRequest;
}

/** Options of `createPopulation`. */
export interface PopulationOptions {
  /** Any 32-bit unsigned integer; the same seed gives the same population. */
  readonly seed: number;
  /** Number of players, at least `MIN_POPULATION_SIZE`. */
  readonly size: number;
}

/** Smallest population that still has people collections, blockers and large XUIDs. */
export const MIN_POPULATION_SIZE = 200;

/** Largest population; its regular XUIDs still have 16 digits. */
export const MAX_POPULATION_SIZE = 1_000_000;

/** Userhash of `exampleRequest()`; any other userhash works too. */
export const EXAMPLE_USERHASH = '3218841136841218711';

// Real XUIDs of this era start near 2533274790000000 (16 digits, below 2^53).
const REGULAR_XUID_BASE = 2_533_274_790_000_000;
const REGULAR_XUID_STRIDE = 1000;

// Placed at the end of the population; both sides of the 16/20-digit boundary above 2^53.
const LARGE_XUIDS: readonly string[] = Object.freeze([
  '9007199254740993',
  '18446744073709551000',
  '18446744073709551001',
  '18446744073709551002',
  '18446744073709551003',
  '18446744073709551004',
  '18446744073709551005',
  '18446744073709551615',
]);

const MAX_CACHED_USERS = 20_000;
const MAX_CACHED_COLLECTIONS = 2_000;

const ADJECTIVES = [
  'Cracklier', 'Swift', 'Silent', 'Crimson', 'Frosty', 'Lucky', 'Mighty', 'Shadow',
  'Velvet', 'Rusty', 'Cosmic', 'Brave', 'Clever', 'Dusty', 'Electric', 'Gentle',
  'Hollow', 'Jolly', 'Lunar', 'Misty', 'Noble', 'Quiet', 'Rapid', 'Sunny',
]; // prettier-ignore
const NOUNS = [
  'Jewel', 'Otter', 'Falcon', 'Comet', 'Badger', 'Pixel', 'Ranger', 'Wizard',
  'Panda', 'Raven', 'Tiger', 'Nomad', 'Ember', 'Glacier', 'Knight', 'Pilot',
  'Rocket', 'Sparrow', 'Titan', 'Viper', 'Walrus', 'Yeti', 'Zephyr', 'Maple',
]; // prettier-ignore
const FIRST_NAMES = [
  'Ada',
  'Bruno',
  'Chloé',
  'Dmitri',
  'Eun-ji',
  'Femi',
  'Grace',
  'Hiro',
  'Inés',
  'Jonas',
  'Kavya',
  'Liam',
];
const LAST_NAMES = [
  'Okafor',
  'Nakamura',
  'García',
  'Schmidt',
  'Smith',
  'Kowalski',
  "O'Brien",
  'Singh',
  'Dubois',
  'Larsen',
];
const BIOS = [
  'Achievement hunter | 100% or bust',
  'Speedrunner. Café regular ☕',
  'She said "gg" first',
  'Casual on weekdays, sweaty on weekends 🎮',
  '<b>not html</b> & not a link',
  'ex-Xbox',
  'Streaming Tuesdays',
];
const LOCATIONS = [
  'Seattle, WA',
  'about.me/thevowel',
  'Berlin',
  'São Paulo',
  'Tokyo',
  'Lagos',
  'Kraków',
];
const WATERMARKS = [
  'XboxOriginalTeam',
  'XboxLiveLaunchTeam',
  'LaunchTeam',
  'NxeTeam',
  'KinectTeam',
  'XboxOneTeam',
  'XboxNxoeTeam',
];
const PICTURE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-';
const LEGACY_NETWORKS: readonly string[] = Object.freeze(['LegacyXboxLive']);

const ALLOWED: PermissionResult = Object.freeze({ isAllowed: true });
const BLOCKED = deny('BlockListRestrictsTarget');
const PROFILE_HIDDEN = deny('PrivacySettingRestrictsTarget', 'ShareProfile');
const PROFILE_VIEWING_DENIED = deny('PrivilegeRestrictsTarget', 'AllowProfileViewing');
const COMMUNICATION_DENIED = deny('PrivilegeRestrictsTarget', 'AllowCommunications');
const MUTED = deny('MuteListRestrictsTarget');
const MULTIPLAYER_DENIED = deny('PrivilegeRestrictsTarget', 'AllowMultiplayer');

/** Which permissions each stance denies, and with which (shared, frozen) result. */
const DENIALS: Readonly<Record<TargetStance, Partial<Record<PermissionId, PermissionResult>>>> = {
  none: {},
  blocks: Object.fromEntries(PERMISSION_IDS.map((id) => [id, BLOCKED])),
  hidesProfile: { ViewTargetProfile: PROFILE_HIDDEN },
  deniesProfileViewing: { ViewTargetProfile: PROFILE_VIEWING_DENIED },
  deniesCommunication: {
    CommunicateUsingText: COMMUNICATION_DENIED,
    CommunicateUsingVoice: COMMUNICATION_DENIED,
    CommunicateUsingVideo: COMMUNICATION_DENIED,
  },
  mutes: { CommunicateUsingText: MUTED, CommunicateUsingVoice: MUTED },
  deniesMultiplayer: { PlayMultiplayer: MULTIPLAYER_DENIED },
};

/** Upper bounds of a uniform draw for each stance other than 'none' (cumulative shares). */
const STANCE_THRESHOLDS: readonly (readonly [number, TargetStance])[] = [
  [0.04, 'blocks'],
  [0.07, 'hidesProfile'],
  [0.1, 'deniesProfileViewing'],
  [0.14, 'deniesCommunication'],
  [0.18, 'mutes'],
  [0.2, 'deniesMultiplayer'],
];

const SALT_XUID = 0x1d5a17;
const SALT_USER = 0x05e7;
const SALT_PEOPLE = 0x9e0b1e;
const SALT_STANCE = 0x57a9ce;
const SALT_CALLER = 0xca11e7;

/** Builds the population; players are generated on first use and kept in a bounded cache. */
export function createPopulation(options: PopulationOptions): Population {
  const { seed, size } = options;
  if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffff_ffff)) {
    throw new TypeError(
      `Cannot create population: seed must be a 32-bit whole number (got ${seed})`,
    );
  }
  if (!(Number.isInteger(size) && size >= MIN_POPULATION_SIZE && size <= MAX_POPULATION_SIZE)) {
    throw new TypeError(
      `Cannot create population: size must be a whole number from ${MIN_POPULATION_SIZE} to ${MAX_POPULATION_SIZE} (got ${size})`,
    );
  }
  const regularCount = size - LARGE_XUIDS.length;
  const largeIndexes = new Map(LARGE_XUIDS.map((xuid, offset) => [xuid, regularCount + offset]));
  const users = createBoundedCache<SimulatedUser>(MAX_CACHED_USERS);
  const collections = createBoundedCache<ReadonlyMap<string, Person>>(MAX_CACHED_COLLECTIONS);

  function xuidAt(index: number): string {
    if (index >= regularCount) return LARGE_XUIDS[index - regularCount] ?? '';
    const offset = mix(seed ^ SALT_XUID, index) % REGULAR_XUID_STRIDE;
    return String(REGULAR_XUID_BASE + index * REGULAR_XUID_STRIDE + offset);
  }

  /** The index of a XUID in the population, or -1. */
  function indexOf(xuid: string): number {
    const large = largeIndexes.get(xuid);
    if (large !== undefined) return large;
    // Regular XUIDs are 16 digits, so Number() is exact for them.
    if (xuid.length !== 16) return -1;
    const index = Math.floor((Number(xuid) - REGULAR_XUID_BASE) / REGULAR_XUID_STRIDE);
    return index >= 0 && index < regularCount && xuidAt(index) === xuid ? index : -1;
  }

  function userAt(index: number): SimulatedUser {
    return users.getOrCreate(index, () =>
      generateUser(xuidAt(index), mix(seed ^ SALT_USER, index)),
    );
  }

  function peopleAt(callerIndex: number): ReadonlyMap<string, Person> {
    return collections.getOrCreate(callerIndex, () => {
      const random = mulberry32(mix(seed ^ SALT_PEOPLE, callerIndex));
      const count = Math.min(size - 1, 50 + Math.floor(random() * 101));
      const picked = new Set<number>();
      // Every collection holds one XUID above 2^53, so precision loss shows on every caller.
      const largeIndex = regularCount + (callerIndex % LARGE_XUIDS.length);
      if (largeIndex !== callerIndex) picked.add(largeIndex);
      while (picked.size < count) {
        const index = Math.floor(random() * size);
        if (index !== callerIndex) picked.add(index);
      }
      const people = new Map<string, Person>();
      for (const index of picked) {
        const xuid = xuidAt(index);
        people.set(xuid, generatePerson(xuid, random));
      }
      return people;
    });
  }

  function stanceAt(callerIndex: number, targetIndex: number): TargetStance {
    if (callerIndex === targetIndex) return 'none';
    const draw = mix(mix(seed ^ SALT_STANCE, callerIndex), targetIndex) / 4_294_967_296;
    for (const [threshold, stance] of STANCE_THRESHOLDS) {
      if (draw < threshold) return stance;
    }
    return 'none';
  }

  function stanceOf(callerXuid: string, targetXuid: string): TargetStance {
    const callerIndex = indexOf(callerXuid);
    const targetIndex = indexOf(targetXuid);
    return callerIndex < 0 || targetIndex < 0 ? 'none' : stanceAt(callerIndex, targetIndex);
  }

  function callerFor(userhash: string): string {
    return xuidAt(hashString(userhash, seed ^ SALT_CALLER) % size);
  }

  function peopleOf(callerXuid: string): ReadonlyMap<string, Person> {
    const index = indexOf(callerXuid);
    return index < 0 ? new Map() : peopleAt(index);
  }

  function findTarget(
    callerXuid: string,
    stance: TargetStance,
    findOptions: FindTargetOptions = {},
  ): string | undefined {
    const callerIndex = indexOf(callerXuid);
    if (callerIndex < 0) return undefined;
    const people = peopleAt(callerIndex);
    if (findOptions.isInPeople === true) {
      for (const xuid of people.keys()) {
        if (stanceAt(callerIndex, indexOf(xuid)) === stance) return xuid;
      }
      return undefined;
    }
    for (let index = 0; index < size; index += 1) {
      if (index === callerIndex || stanceAt(callerIndex, index) !== stance) continue;
      const xuid = xuidAt(index);
      if (findOptions.isInPeople === false && people.has(xuid)) continue;
      return xuid;
    }
    return undefined;
  }

  function exampleRequest(): ExampleRequest {
    const callerXuid = callerFor(EXAMPLE_USERHASH);
    const collection = peopleOf(callerXuid);
    const people = [...collection.keys()];
    const isPlainFriend = (xuid: string): boolean =>
      !largeIndexes.has(xuid) && stanceOf(callerXuid, xuid) === 'none';
    const xuids = new Set<string>();
    // A favourite first, then other people the caller may fully see.
    const favourite = people.find(
      (xuid) => isPlainFriend(xuid) && collection.get(xuid)?.isFavorite,
    );
    if (favourite !== undefined) xuids.add(favourite);
    for (const xuid of people) {
      if (xuids.size >= 5) break;
      if (isPlainFriend(xuid)) xuids.add(xuid);
    }
    const extras = [
      people.find((xuid) => largeIndexes.has(xuid)),
      findTarget(callerXuid, 'blocks', { isInPeople: true }) ?? findTarget(callerXuid, 'blocks'),
      findTarget(callerXuid, 'hidesProfile', { isInPeople: true }) ??
        findTarget(callerXuid, 'hidesProfile'),
      findTarget(callerXuid, 'deniesCommunication'),
      findTarget(callerXuid, 'none', { isInPeople: false }),
    ];
    for (const xuid of extras) if (xuid !== undefined) xuids.add(xuid);
    return {
      userhash: EXAMPLE_USERHASH,
      authorization: `XBL3.0 x=${EXAMPLE_USERHASH};simulated-xsts-token`,
      callerXuid,
      xuids: [...xuids],
    };
  }

  return {
    seed,
    size,
    largeXuids: LARGE_XUIDS,
    xuidAt(index) {
      if (!(Number.isInteger(index) && index >= 0 && index < size)) {
        throw new RangeError(`Cannot read XUID: index ${index} is outside 0..${size - 1}`);
      }
      return xuidAt(index);
    },
    user(xuid) {
      const index = indexOf(xuid);
      return index < 0 ? undefined : userAt(index);
    },
    callerFor,
    peopleOf,
    stanceOf,
    permission(callerXuid, targetXuid, permissionId) {
      return DENIALS[stanceOf(callerXuid, targetXuid)][permissionId] ?? ALLOWED;
    },
    findTarget,
    exampleRequest,
  };
}

/** Generates one player's profile; optional settings are left out for some players. */
function generateUser(xuid: string, userSeed: number): SimulatedUser {
  const random = mulberry32(userSeed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const chance = (share: number): boolean => random() < share;

  const adjective = pick(ADJECTIVES);
  const noun = pick(NOUNS);
  const digits = chance(0.7) ? String(Math.floor(random() * 100)) : '';
  const spaced = `${adjective} ${noun}`;
  const joined = `${adjective}${noun}`;
  let gamertag = chance(0.1) && spaced.length <= 15 ? spaced : joined;
  if (gamertag.length + digits.length <= 15) gamertag += digits;
  const suffix = chance(0.3) ? String(1 + Math.floor(random() * 9999)) : '';
  const picture = pictureUrl(random);
  const realName = chance(0.5) ? `${pick(FIRST_NAMES)} ${pick(LAST_NAMES)}` : undefined;

  const values: Partial<Record<ProfileSettingId, string>> = {
    GameDisplayName: gamertag,
    GameDisplayPicRaw: picture,
    Gamerscore: chance(0.05) ? '0' : String(Math.floor(random() ** 2 * 150_000)),
    Gamertag: gamertag,
    AppDisplayName: gamertag,
    AppDisplayPicRaw: picture,
    AccountTier: chance(0.6) ? 'Gold' : chance(0.75) ? 'Silver' : 'FamilyGold',
    TenureLevel: String(Math.floor(random() * 21)),
    XboxOneRep: chance(0.8)
      ? 'GoodPlayer'
      : chance(0.6)
        ? 'Superstar'
        : pick(['NeedsWork', 'AvoidMe']),
    PreferredColor: `${chance(0.8) ? 'http' : 'https'}://dlassets.xboxlive.com/public/content/ppl/colors/${String(Math.floor(random() * 21)).padStart(5, '0')}.json`,
    ModernGamertag: gamertag,
    ModernGamertagSuffix: suffix,
    UniqueModernGamertag: suffix === '' ? gamertag : `${gamertag}#${suffix}`,
    IsQuarantined: chance(0.01) ? '1' : '0',
  };
  // Players who never filled these in have no such setting at all.
  if (chance(0.5)) values.Bio = pick(BIOS);
  if (chance(0.4)) values.Location = pick(LOCATIONS);
  if (realName !== undefined) {
    values.RealName = realName;
    if (chance(0.5)) values.RealNameOverride = realName;
  }
  if (chance(0.1)) {
    values.Watermarks = WATERMARKS.filter(() => chance(0.5)).join('|') || 'LaunchTeam';
  }

  const settings: Partial<Record<ProfileSettingId, ProfileSetting>> = {};
  for (const id of PROFILE_SETTING_IDS) {
    const value = values[id];
    if (value !== undefined) settings[id] = Object.freeze({ id, value });
  }
  return Object.freeze({ xuid, settings: Object.freeze(settings) });
}

/** An images-eds picture URL, http or https, sometimes already carrying `&format=png`. */
function pictureUrl(random: () => number): string {
  let token = '';
  for (let i = 0; i < 64; i += 1) {
    token += PICTURE_ALPHABET[Math.floor(random() * PICTURE_ALPHABET.length)] ?? 'A';
  }
  const host =
    random() < 0.5 ? 'http://images-eds.xboxlive.com' : 'https://images-eds-ssl.xboxlive.com';
  return `${host}/image?url=${token}${random() < 0.6 ? '&format=png' : ''}`;
}

/** One person of a collection; optional members are left out as the service does. */
function generatePerson(xuid: string, random: () => number): Person {
  const isFavorite = random() < 0.15;
  const followDraw = random();
  const hasLegacyNetwork = random() < 0.3;
  const person: { -readonly [K in keyof Person]: Person[K] } = { xuid, isFavorite };
  // Older service versions leave isFollowingCaller out; socialNetworks is left out when empty.
  if (followDraw < 0.85) person.isFollowingCaller = followDraw < 0.45;
  if (hasLegacyNetwork) person.socialNetworks = LEGACY_NETWORKS;
  return Object.freeze(person);
}

/** A frozen denial with one reason, shared by every answer that needs it. */
function deny(reason: string, restrictedSetting?: string): PermissionResult {
  const denyReason = restrictedSetting === undefined ? { reason } : { reason, restrictedSetting };
  return Object.freeze({ isAllowed: false, reasons: Object.freeze([Object.freeze(denyReason)]) });
}

/** A cache that forgets its oldest entry past `maxEntries`; values are recomputable. */
function createBoundedCache<V>(maxEntries: number) {
  const entries = new Map<number, V>();
  return {
    getOrCreate(key: number, create: () => V): V {
      const found = entries.get(key);
      if (found !== undefined) return found;
      const value = create();
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      entries.set(key, value);
      return value;
    },
  };
}

/** Mixes two 32-bit numbers into one well-spread unsigned 32-bit number (murmur3 finaliser). */
function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of `text`, mixed with `seed`. */
function hashString(text: string, seed: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix(seed, h >>> 0);
}
