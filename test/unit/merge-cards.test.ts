import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import type { FailureKind } from '../../src/errors.js';
import type {
  CardOutcomes,
  FriendCard,
  FriendCardsRequest,
  FriendCardsResult,
  PartError,
} from '../../src/friend-cards/friend-card.js';
import {
  findRequestFailure,
  mergeCards,
  permissionsToCheck,
} from '../../src/friend-cards/merge-cards.js';
import type { ProfileLoadResult, ProfileValues } from '../../src/profile-cache/load-profiles.js';
import type { PermissionResult, UserPermissions } from '../../src/upstreams/privacy-client.js';
import type { Person } from '../../src/upstreams/social-client.js';
import type { PartFailure, UpstreamOutcome } from '../../src/upstreams/upstream-pipeline.js';
import { PERMISSION_IDS, PROFILE_SETTING_IDS } from '../../src/xbl-vocabulary.js';
import type { PermissionId, ProfileSettingId, UpstreamName } from '../../src/xbl-vocabulary.js';

const A = '2533274791381930';
const B = '2533274792986770';
const C = '18446744073709551615';

const ALLOWED: PermissionResult = { isAllowed: true };
const BLOCKED: PermissionResult = {
  isAllowed: false,
  reasons: [{ reason: 'BlockListRestrictsTarget' }],
};
const NOT_IN_PEOPLE = {
  inPeopleCollection: false,
  isFavorite: false,
  isFollowingCaller: false,
  socialNetworks: [],
};

function ok<T>(value: T): UpstreamOutcome<T> {
  return { ok: true, value };
}

function failed(
  kind: FailureKind,
  extra: Partial<PartFailure> = {},
): { ok: false; failure: PartFailure } {
  return { ok: false, failure: { kind, ...extra } };
}

function profileValues(xuid: string, settings: readonly ProfileSettingId[]): ProfileValues {
  return new Map(settings.map((setting) => [setting, `${setting} of ${xuid}`]));
}

function profilesFor(
  xuids: readonly string[],
  settings: readonly ProfileSettingId[],
  failure?: PartFailure,
): ProfileLoadResult {
  return {
    profiles: new Map(xuids.map((xuid) => [xuid, profileValues(xuid, settings)])),
    failure,
  };
}

function allowAll(xuids: readonly string[], checked: readonly PermissionId[]): UserPermissions[] {
  return xuids.map((xuid) => ({ user: { xuid }, permissions: checked.map(() => ALLOWED) }));
}

const SETTINGS: readonly ProfileSettingId[] = ['Gamertag', 'Gamerscore'];

function request(overrides: Partial<FriendCardsRequest> = {}): FriendCardsRequest {
  return { xuids: [A, B, C], settings: SETTINGS, permissions: ['ViewTargetProfile'], ...overrides };
}

/** Healthy outcomes for `req`, with any part replaced. */
function outcomesFor(req: FriendCardsRequest, overrides: Partial<CardOutcomes> = {}): CardOutcomes {
  const checkedPermissions = permissionsToCheck(req.permissions);
  return {
    social: ok<readonly Person[]>([]),
    profile: profilesFor(req.xuids, req.settings),
    privacy: ok<readonly UserPermissions[]>(allowAll(req.xuids, checkedPermissions)),
    checkedPermissions,
    ...overrides,
  };
}

function expectedProfile(xuid: string, settings: readonly ProfileSettingId[] = SETTINGS) {
  return Object.fromEntries(settings.map((setting) => [setting, `${setting} of ${xuid}`]));
}

function cardAt(result: FriendCardsResult, index: number): FriendCard {
  const card = result.cards[index];
  assert.ok(card, `expected a card at position ${index}`);
  return card;
}

describe('permissionsToCheck', () => {
  test('when ViewTargetProfile is not asked, it is appended after the asked permissions', () => {
    const asked: PermissionId[] = ['PlayMultiplayer', 'CommunicateUsingText'];

    const checked = permissionsToCheck(asked);

    assert.deepEqual(
      checked,
      ['PlayMultiplayer', 'CommunicateUsingText', 'ViewTargetProfile'],
      'the gate is checked last, the asked order kept',
    );
    assert.deepEqual(
      asked,
      ['PlayMultiplayer', 'CommunicateUsingText'],
      'the input is not changed',
    );
  });

  test('when ViewTargetProfile is asked, the asked list is checked as is', () => {
    const asked: PermissionId[] = ['CommunicateUsingText', 'ViewTargetProfile', 'PlayMultiplayer'];

    const checked = permissionsToCheck(asked);

    assert.deepEqual(checked, asked, 'no second ViewTargetProfile, same order');
  });
});

describe('mergeCards', () => {
  test('when every part succeeded, cards follow the request order with profiles, default relationships and no errors', () => {
    const req = request({ xuids: [C, A, B] });
    const people: Person[] = [
      { xuid: A, isFavorite: true, isFollowingCaller: true, socialNetworks: ['LegacyXboxLive'] },
      { xuid: B },
    ];

    const result = mergeCards(req, outcomesFor(req, { social: ok(people) }));

    assert.deepEqual(
      result.cards.map((card) => card.xuid),
      [C, A, B],
      'request order',
    );
    assert.deepEqual(
      result.cards.find((card) => card.xuid === A)?.relationship,
      {
        inPeopleCollection: true,
        isFavorite: true,
        isFollowingCaller: true,
        socialNetworks: ['LegacyXboxLive'],
      },
      'a listed person keeps every member',
    );
    assert.deepEqual(
      result.cards.find((card) => card.xuid === B)?.relationship,
      { inPeopleCollection: true, isFavorite: false, isFollowingCaller: false, socialNetworks: [] },
      'optional members left out become false and []',
    );
    assert.deepEqual(
      result.cards.find((card) => card.xuid === C)?.relationship,
      NOT_IN_PEOPLE,
      'an unlisted XUID gets the default relationship',
    );
    for (const card of result.cards) {
      assert.equal(card.profileStatus, 'ok', `${card.xuid}: profile served`);
      assert.deepEqual(card.profile, expectedProfile(card.xuid), `${card.xuid}: its own profile`);
      assert.deepEqual(
        card.permissions,
        { ViewTargetProfile: ALLOWED },
        `${card.xuid}: permissions`,
      );
    }
    assert.equal(result.partial, false, 'not partial');
    assert.deepEqual(result.errors, [], 'no errors');
  });

  test('when people lists XUIDs that were not asked, no card or relationship comes from them', () => {
    const req = request({ xuids: [A] });

    const result = mergeCards(
      req,
      outcomesFor(req, { social: ok([{ xuid: B, isFavorite: true }, { xuid: C }]) }),
    );

    assert.deepEqual(
      result.cards.map((card) => card.xuid),
      [A],
      'one card per asked XUID',
    );
    assert.deepEqual(cardAt(result, 0).relationship, NOT_IN_PEOPLE, 'A is not in the collection');
  });

  test('when social failed, every relationship is null and the social error carries its status', () => {
    const req = request();

    const result = mergeCards(
      req,
      outcomesFor(req, { social: failed('unavailable', { status: 503 }) }),
    );

    for (const card of result.cards) {
      assert.equal(card.relationship, null, `${card.xuid}: relationship null`);
      assert.equal(card.profileStatus, 'ok', `${card.xuid}: profile still served`);
    }
    assert.deepEqual(
      result.errors,
      [{ upstream: 'social', code: 'unavailable', status: 503 }],
      'one social error',
    );
    assert.equal(result.partial, true, 'partial');
  });

  test('when a failure has no status, its error entry has no status member', () => {
    const req = request();

    const result = mergeCards(req, outcomesFor(req, { social: failed('timeout') }));

    assert.deepEqual(result.errors, [{ upstream: 'social', code: 'timeout' }], 'code only');
    assert.ok(!('status' in (result.errors[0] ?? {})), 'no status member at all');
  });

  test('when privacy denies a XUID, it is denied with its reasons while the others are served', () => {
    const req = request();
    const privacy = ok<readonly UserPermissions[]>([
      { user: { xuid: A }, permissions: [ALLOWED] },
      { user: { xuid: B }, permissions: [BLOCKED] },
      { user: { xuid: C }, permissions: [ALLOWED] },
    ]);

    const result = mergeCards(req, outcomesFor(req, { privacy }));

    const denied = cardAt(result, 1);
    assert.equal(denied.profile, null, 'no profile for a denied XUID');
    assert.equal(denied.profileStatus, 'denied', 'profileStatus denied');
    assert.deepEqual(denied.permissions, { ViewTargetProfile: BLOCKED }, 'reasons as given');
    assert.equal(cardAt(result, 0).profileStatus, 'ok', 'the others are served');
    assert.deepEqual(result.errors, [], 'a denial is no error');
  });

  test('when privacy failed, every card has no profile, unavailable status and null permissions, even with profiles loaded', () => {
    const req = request();

    const result = mergeCards(req, outcomesFor(req, { privacy: failed('timeout') }));

    for (const card of result.cards) {
      assert.equal(card.profile, null, `${card.xuid}: profile withheld`);
      assert.equal(card.profileStatus, 'unavailable', `${card.xuid}: unavailable`);
      assert.equal(card.permissions, null, `${card.xuid}: permissions null`);
    }
    assert.deepEqual(
      result.errors,
      [{ upstream: 'privacy', code: 'timeout' }],
      'one privacy error',
    );
  });

  test('when privacy allows but the profile part has nothing for a XUID, that card is unavailable', () => {
    const req = request();

    const result = mergeCards(req, outcomesFor(req, { profile: profilesFor([A, C], SETTINGS) }));

    assert.equal(cardAt(result, 1).profileStatus, 'unavailable', 'B has no profile');
    assert.equal(cardAt(result, 1).profile, null, 'B profile null');
    assert.deepEqual(
      cardAt(result, 1).permissions,
      { ViewTargetProfile: ALLOWED },
      'permissions kept',
    );
    assert.deepEqual(result.errors, [], 'an unknown user is not an error');
  });

  test('when the profile part failed but still holds some profiles, those are served and the failure is reported', () => {
    const req = request();
    const profile = profilesFor([A], SETTINGS, { kind: 'unavailable', status: 500 });

    const result = mergeCards(req, outcomesFor(req, { profile }));

    assert.deepEqual(
      result.cards.map((card) => card.profileStatus),
      ['ok', 'unavailable', 'unavailable'],
      'only the held profile is served',
    );
    assert.deepEqual(
      result.errors,
      [{ upstream: 'profile', code: 'unavailable', status: 500 }],
      'profile error',
    );
  });

  test('when a setting is missing from a loaded profile, the profile still holds exactly the requested settings', () => {
    const req = request({ xuids: [A] });
    const profile: ProfileLoadResult = {
      profiles: new Map([
        [
          A,
          new Map<ProfileSettingId, string | null>([
            ['Gamertag', 'tag'],
            ['Gamerscore', null],
          ]),
        ],
      ]),
    };

    const result = mergeCards(req, outcomesFor(req, { profile }));

    assert.deepEqual(
      cardAt(result, 0).profile,
      { Gamertag: 'tag', Gamerscore: null },
      'exactly the requested settings',
    );
  });

  test('when several permissions are asked, results map by position and are reported in the asked order', () => {
    const req = request({
      xuids: [A],
      permissions: ['CommunicateUsingText', 'ViewTargetProfile', 'PlayMultiplayer'],
    });
    const results: PermissionResult[] = [
      { isAllowed: false, reasons: [{ reason: 'MuteListRestrictsTarget' }] },
      { isAllowed: true },
      {
        isAllowed: false,
        reasons: [{ reason: 'PrivilegeRestrictsTarget', restrictedSetting: 'AllowMultiplayer' }],
      },
    ];

    const result = mergeCards(
      req,
      outcomesFor(req, { privacy: ok([{ user: { xuid: A }, permissions: results }]) }),
    );

    const card = cardAt(result, 0);
    assert.deepEqual(Object.keys(card.permissions ?? {}), req.permissions, 'asked order');
    assert.deepEqual(
      card.permissions,
      {
        CommunicateUsingText: results[0],
        ViewTargetProfile: results[1],
        PlayMultiplayer: results[2],
      },
      'result i answers permission i',
    );
    assert.equal(card.profileStatus, 'ok', 'the middle result allows the profile');
  });

  test('when ViewTargetProfile was only checked, not asked, it gates the profile but is not reported', () => {
    const req = request({ xuids: [A], permissions: ['ShareItem'] });

    const result = mergeCards(
      req,
      outcomesFor(req, { privacy: ok([{ user: { xuid: A }, permissions: [ALLOWED, BLOCKED] }]) }),
    );

    assert.equal(cardAt(result, 0).profileStatus, 'denied', 'the appended check denies');
    assert.deepEqual(
      cardAt(result, 0).permissions,
      { ShareItem: ALLOWED },
      'only the asked one reported',
    );
  });

  for (const [name, entries] of [
    ['absent from the privacy answer', []],
    ['answered with too few results', [{ user: { xuid: B }, permissions: [] }]],
    ['answered with too many results', [{ user: { xuid: B }, permissions: [ALLOWED, ALLOWED] }]],
    [
      'listed twice with different answers',
      [
        { user: { xuid: B }, permissions: [ALLOWED] },
        { user: { xuid: B }, permissions: [BLOCKED] },
      ],
    ],
    [
      'listed twice, denied then allowed',
      [
        { user: { xuid: B }, permissions: [BLOCKED] },
        { user: { xuid: B }, permissions: [ALLOWED] },
      ],
    ],
    [
      'listed three times with the middle one different',
      [
        { user: { xuid: B }, permissions: [ALLOWED] },
        { user: { xuid: B }, permissions: [BLOCKED] },
        { user: { xuid: B }, permissions: [ALLOWED] },
      ],
    ],
    [
      'listed with a wrong count, then a good answer',
      [
        { user: { xuid: B }, permissions: [] },
        { user: { xuid: B }, permissions: [ALLOWED] },
      ],
    ],
  ] as const satisfies readonly (readonly [string, readonly UserPermissions[]])[]) {
    test(`when a XUID is ${name}, it gets no profile and privacy is reported as bad_response`, () => {
      const req = request();
      const privacy = ok<readonly UserPermissions[]>([
        { user: { xuid: A }, permissions: [ALLOWED] },
        ...entries,
        { user: { xuid: C }, permissions: [ALLOWED] },
      ]);

      const result = mergeCards(req, outcomesFor(req, { privacy }));

      const card = cardAt(result, 1);
      assert.equal(card.profile, null, 'no profile');
      assert.equal(card.profileStatus, 'unavailable', 'unavailable');
      assert.equal(card.permissions, null, 'permissions null');
      assert.equal(cardAt(result, 0).profileStatus, 'ok', 'A is fine');
      assert.equal(cardAt(result, 2).profileStatus, 'ok', 'C is fine');
      assert.deepEqual(
        result.errors,
        [{ upstream: 'privacy', code: 'bad_response' }],
        'one privacy error',
      );
      assert.equal(result.partial, true, 'partial');
    });
  }

  test('when a XUID is listed twice with identical answers, it is served', () => {
    const req = request();
    const privacy = ok<readonly UserPermissions[]>([
      ...allowAll([A, B, C], ['ViewTargetProfile']),
      { user: { xuid: B }, permissions: [{ isAllowed: true }] },
    ]);

    const result = mergeCards(req, outcomesFor(req, { privacy }));

    assert.deepEqual(
      result.cards.map((card) => card.profileStatus),
      ['ok', 'ok', 'ok'],
      'all served',
    );
    assert.deepEqual(result.errors, [], 'no error');
  });

  test('when privacy lists unasked XUIDs and users without a xuid, they are ignored', () => {
    const req = request({ xuids: [A] });
    const privacy = ok<readonly UserPermissions[]>([
      { user: {}, permissions: [BLOCKED] },
      { user: { xuid: B }, permissions: [BLOCKED] },
      { user: { xuid: A }, permissions: [ALLOWED] },
      { user: { xuid: C }, permissions: [] },
    ]);

    const result = mergeCards(req, outcomesFor(req, { privacy }));

    assert.deepEqual(
      result.cards.map((card) => card.xuid),
      [A],
      'only the asked card',
    );
    assert.equal(cardAt(result, 0).profileStatus, 'ok', 'A served');
    assert.deepEqual(result.errors, [], 'unasked entries are no error');
  });

  test('when all three parts failed, errors lists social, profile and privacy with their codes', () => {
    const req = request();

    const result = mergeCards(
      req,
      outcomesFor(req, {
        social: failed('throttled', { status: 429, retryAfterSeconds: 3 }),
        profile: { profiles: new Map(), failure: { kind: 'bad_response' } },
        privacy: failed('circuit_open'),
      }),
    );

    assert.deepEqual(
      result.errors,
      [
        { upstream: 'social', code: 'throttled', status: 429 },
        { upstream: 'profile', code: 'bad_response' },
        { upstream: 'privacy', code: 'circuit_open' },
      ],
      'one entry per failed part, nothing more (no retryAfterSeconds or cause)',
    );
  });
});

describe('findRequestFailure', () => {
  const req = request();

  test('when every part succeeded, the request does not fail', () => {
    const outcomes = outcomesFor(req);

    const failure = findRequestFailure(outcomes);

    assert.equal(failure, undefined, 'nothing fails the request');
  });

  test('when one or two parts failed, the request does not fail as a whole', () => {
    const outcomes = outcomesFor(req, {
      social: failed('unavailable', { status: 500 }),
      privacy: failed('timeout'),
    });

    const failure = findRequestFailure(outcomes);

    assert.equal(failure, undefined, 'the profile part can still be served');
  });

  for (const upstream of [
    'social',
    'profile',
    'privacy',
  ] as const satisfies readonly UpstreamName[]) {
    for (const status of [401, 403] as const) {
      test(`when ${upstream} answered ${status}, the request fails with ${status} even though the others succeeded`, () => {
        const rejected = { kind: 'unavailable' as const, status };
        const outcomes = outcomesFor(
          req,
          upstream === 'profile'
            ? { profile: { profiles: new Map(), failure: rejected } }
            : { [upstream]: { ok: false, failure: rejected } },
        );

        const failure = findRequestFailure(outcomes);

        assert.ok(failure, 'the request fails as a whole');

        assert.equal(failure.status, status, `the client gets ${status}`);
        assert.equal(
          failure.code,
          status === 401 ? 'upstream_unauthorized' : 'upstream_forbidden',
          'stable code',
        );
      });
    }
  }

  test('when every part failed without timeouts or throttling, the request fails with 502', () => {
    const outcomes = outcomesFor(req, {
      social: failed('unavailable', { status: 500 }),
      profile: { profiles: new Map(), failure: { kind: 'bad_response' } },
      privacy: failed('unavailable'),
    });

    const failure = findRequestFailure(outcomes);

    assert.ok(failure, 'the request fails as a whole');

    assert.equal(failure.status, 502, '502');
    assert.equal(failure.code, 'upstreams_failed', 'stable code');
  });

  test('when every part timed out, the request fails with 504', () => {
    const outcomes = outcomesFor(req, {
      social: failed('timeout'),
      profile: { profiles: new Map(), failure: { kind: 'timeout' } },
      privacy: failed('timeout'),
    });

    const failure = findRequestFailure(outcomes);

    assert.ok(failure, 'the request fails as a whole');

    assert.equal(failure.status, 504, '504');
    assert.equal(failure.code, 'upstreams_timed_out', 'stable code');
  });

  test('when every part failed and only some timed out, the request fails with 502', () => {
    const outcomes = outcomesFor(req, {
      social: failed('timeout'),
      profile: { profiles: new Map(), failure: { kind: 'timeout' } },
      privacy: failed('circuit_open'),
    });

    const failure = findRequestFailure(outcomes);

    assert.ok(failure, 'the request fails as a whole');

    assert.equal(failure.status, 502, 'not every part timed out');
  });

  test('when every part was throttled, the request fails with 429 and the longest Retry-After rounded up', () => {
    const outcomes = outcomesFor(req, {
      social: failed('throttled', { status: 429, retryAfterSeconds: 3 }),
      profile: {
        profiles: new Map(),
        failure: { kind: 'throttled', status: 429, retryAfterSeconds: 7.2 },
      },
      privacy: failed('throttled', { status: 429 }),
    });

    const failure = findRequestFailure(outcomes);

    assert.ok(failure, 'the request fails as a whole');

    assert.equal(failure.status, 429, '429');
    assert.equal(failure.headers['Retry-After'], '8', 'whole seconds, at least the longest wait');
  });

  test('when every part was throttled without Retry-After, the client Retry-After is 1', () => {
    const outcomes = outcomesFor(req, {
      social: failed('throttled', { status: 429 }),
      profile: { profiles: new Map(), failure: { kind: 'throttled', status: 429 } },
      privacy: failed('throttled', { status: 429 }),
    });

    const failure = findRequestFailure(outcomes);

    assert.ok(failure, 'the request fails as a whole');

    assert.equal(failure.headers['Retry-After'], '1', '1 s when absent');
  });

  test('when the profile part failed but still served some profiles, the request does not fail', () => {
    const outcomes = outcomesFor(req, {
      social: failed('unavailable', { status: 500 }),
      profile: profilesFor([A], SETTINGS, { kind: 'timeout' }),
      privacy: failed('unavailable', { status: 500 }),
    });

    const failure = findRequestFailure(outcomes);

    assert.equal(failure, undefined, 'cached profiles are something to serve');
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests: mergeCards against an independent oracle.

const xuidArb = fc.bigInt({ min: 1n, max: 18_446_744_073_709_551_615n }).map(String);

const reasonArb = fc.record(
  {
    reason: fc.constantFrom(
      'NotAllowed',
      'BlockListRestrictsTarget',
      'MuteListRestrictsTarget',
      'Whatever',
    ),
    restrictedSetting: fc.constantFrom('AllowProfileViewing', 'ShareProfile'),
    restrictedPrivilege: fc.constantFrom('ProfileViewing', 'Communications'),
  },
  { requiredKeys: ['reason'], noNullPrototype: true },
);

const resultArb: fc.Arbitrary<PermissionResult> = fc.record(
  { isAllowed: fc.boolean(), reasons: fc.array(reasonArb, { maxLength: 2 }) },
  { requiredKeys: ['isAllowed'], noNullPrototype: true },
);

const failureArb: fc.Arbitrary<PartFailure> = fc.record(
  {
    kind: fc.constantFrom<FailureKind>(
      'timeout',
      'unavailable',
      'bad_response',
      'throttled',
      'circuit_open',
    ),
    status: fc.constantFrom(400, 404, 429, 500, 502, 503),
  },
  { requiredKeys: ['kind'], noNullPrototype: true },
);

interface Scenario {
  readonly request: FriendCardsRequest;
  readonly outcomes: CardOutcomes;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    xuids: fc.uniqueArray(xuidArb, { minLength: 1, maxLength: 10 }),
    permissions: fc.uniqueArray(fc.constantFrom(...PERMISSION_IDS), { minLength: 1, maxLength: 4 }),
    settings: fc.uniqueArray(fc.constantFrom(...PROFILE_SETTING_IDS), {
      minLength: 1,
      maxLength: 4,
    }),
  })
  .chain((req) => {
    const checked = permissionsToCheck(req.permissions);
    const goodResults = fc.array(resultArb, {
      minLength: checked.length,
      maxLength: checked.length,
    });
    const anyResults = fc.array(resultArb, { maxLength: checked.length + 2 });
    const entriesFor = (xuid: string): fc.Arbitrary<UserPermissions[]> =>
      fc.oneof(
        fc.constant<UserPermissions[]>([]),
        goodResults.map((permissions) => [{ user: { xuid }, permissions }]),
        goodResults.map((permissions) => [
          { user: { xuid }, permissions },
          { user: { xuid }, permissions: structuredClone(permissions) },
        ]),
        fc.tuple(goodResults, goodResults).map(([first, second]) => [
          { user: { xuid }, permissions: first },
          { user: { xuid }, permissions: second },
        ]),
        anyResults.map((permissions) => [{ user: { xuid }, permissions }]),
      );
    const strangers = fc.array(
      fc.record(
        {
          user: fc.oneof(
            xuidArb.map((xuid) => ({ xuid })),
            fc.constant({}),
          ),
          permissions: anyResults,
        },
        { noNullPrototype: true },
      ),
      { maxLength: 3 },
    );
    const answerArb = fc
      .tuple(fc.tuple(...req.xuids.map(entriesFor)), strangers)
      .chain(([perXuid, extra]) => {
        const all = [...perXuid.flat(), ...extra];
        return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
      });
    const peopleArb = fc.subarray([...req.xuids]).chain((listed) =>
      fc.tuple(
        ...listed.map((xuid) =>
          fc.record(
            {
              xuid: fc.constant(xuid),
              isFavorite: fc.boolean(),
              isFollowingCaller: fc.boolean(),
              socialNetworks: fc.array(fc.constantFrom('LegacyXboxLive', 'Steam'), {
                maxLength: 2,
              }),
            },
            { requiredKeys: ['xuid'], noNullPrototype: true },
          ),
        ),
      ),
    );
    const profileArb = fc.record({
      withProfile: fc.subarray([...req.xuids]),
      failure: fc.option(failureArb, { nil: undefined }),
    });
    return fc.record({
      request: fc.constant<FriendCardsRequest>(req),
      social: fc.oneof(
        peopleArb.map((people) => ok<readonly Person[]>(people)),
        failureArb.map((f) => failed(f.kind, f)),
      ),
      privacy: fc.oneof(
        { weight: 4, arbitrary: answerArb.map((answer) => ok<readonly UserPermissions[]>(answer)) },
        { weight: 1, arbitrary: failureArb.map((f) => failed(f.kind, f)) },
      ),
      profile: profileArb,
      checked: fc.constant(checked),
    });
  })
  .map(({ request: req, social, privacy, profile, checked }) => ({
    request: req,
    outcomes: {
      social,
      privacy,
      profile: profilesFor(profile.withProfile, req.settings, profile.failure),
      checkedPermissions: checked,
    },
  }));

/** The oracle: a XUID's privacy results when the answer is trustworthy, else `undefined`. */
function trustworthyResults(
  outcomes: CardOutcomes,
  xuid: string,
): readonly PermissionResult[] | undefined {
  if (!outcomes.privacy.ok) return undefined;
  const entries = outcomes.privacy.value.filter((entry) => entry.user.xuid === xuid);
  const [first] = entries;
  if (!first) return undefined;
  const isConsistent = entries.every(
    (entry) =>
      entry.permissions.length === outcomes.checkedPermissions.length &&
      isDeepStrictEqual(entry.permissions, first.permissions),
  );
  return isConsistent ? first.permissions : undefined;
}

describe('mergeCards properties', () => {
  test('for any answers, cards come one per XUID in request order', () => {
    fc.assert(
      fc.property(scenarioArb, ({ request: req, outcomes }) => {
        const result = mergeCards(req, outcomes);

        assert.deepEqual(
          result.cards.map((card) => card.xuid),
          [...req.xuids],
          'request order',
        );
      }),
    );
  });

  test('for any privacy answer, a card has a profile only if that XUID is allowed ViewTargetProfile by every entry', () => {
    fc.assert(
      fc.property(scenarioArb, ({ request: req, outcomes }) => {
        const viewIndex = outcomes.checkedPermissions.indexOf('ViewTargetProfile');

        const result = mergeCards(req, outcomes);

        for (const card of result.cards) {
          if (card.profile === null) continue;
          assert.ok(outcomes.privacy.ok, `${card.xuid}: a profile needs a privacy answer`);
          const entries = outcomes.privacy.value.filter((entry) => entry.user.xuid === card.xuid);
          assert.ok(entries.length > 0, `${card.xuid}: a profile needs an entry for that XUID`);
          for (const entry of entries) {
            assert.equal(
              entry.permissions[viewIndex]?.isAllowed,
              true,
              `${card.xuid}: every entry allows ViewTargetProfile`,
            );
          }
        }
      }),
    );
  });

  test('for any answers, profileStatus and permissions match the oracle', () => {
    fc.assert(
      fc.property(scenarioArb, ({ request: req, outcomes }) => {
        const viewIndex = outcomes.checkedPermissions.indexOf('ViewTargetProfile');

        const result = mergeCards(req, outcomes);

        for (const card of result.cards) {
          const results = trustworthyResults(outcomes, card.xuid);
          const hasProfile = outcomes.profile.profiles.has(card.xuid);
          const expectedStatus =
            results === undefined
              ? 'unavailable'
              : results[viewIndex]?.isAllowed !== true
                ? 'denied'
                : hasProfile
                  ? 'ok'
                  : 'unavailable';
          assert.equal(card.profileStatus, expectedStatus, `${card.xuid}: profileStatus`);
          assert.equal(
            card.profile !== null,
            expectedStatus === 'ok',
            `${card.xuid}: profile iff ok`,
          );
          if (card.profile !== null) {
            assert.deepEqual(
              Object.keys(card.profile),
              [...req.settings],
              `${card.xuid}: exactly the settings`,
            );
          }
          assert.deepEqual(
            card.permissions,
            results === undefined
              ? null
              : Object.fromEntries(
                  req.permissions.map((id) => [
                    id,
                    results[outcomes.checkedPermissions.indexOf(id)],
                  ]),
                ),
            `${card.xuid}: permissions are the asked results by position, or null`,
          );
        }
      }),
    );
  });

  test('for any answers, partial is true exactly when errors is not empty, and errors name the failed parts', () => {
    fc.assert(
      fc.property(scenarioArb, ({ request: req, outcomes }) => {
        const result = mergeCards(req, outcomes);

        assert.equal(result.partial, result.errors.length > 0, 'partial === (errors.length > 0)');
        const expected: PartError['upstream'][] = [];
        if (!outcomes.social.ok) expected.push('social');
        if (outcomes.profile.failure) expected.push('profile');
        const isPrivacyIncomplete = req.xuids.some(
          (xuid) => trustworthyResults(outcomes, xuid) === undefined,
        );
        if (!outcomes.privacy.ok || isPrivacyIncomplete) expected.push('privacy');
        assert.deepEqual(
          result.errors.map((entry) => entry.upstream),
          expected,
          'one entry per failed part',
        );
      }),
    );
  });

  test('for any answers, relationship is null exactly when social failed', () => {
    fc.assert(
      fc.property(scenarioArb, ({ request: req, outcomes }) => {
        const result = mergeCards(req, outcomes);

        for (const card of result.cards) {
          assert.equal(
            card.relationship === null,
            !outcomes.social.ok,
            `${card.xuid}: relationship null iff social failed`,
          );
        }
      }),
    );
  });
});
