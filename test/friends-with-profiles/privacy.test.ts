import { test, describe } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { FailureKind } from '../../src/errors.js';
import type {
  FriendCard,
  FriendCardsResult,
  Relationship,
} from '../../src/friend-cards/friend-card.js';
import type { PermissionResult } from '../../src/upstreams/privacy-client.js';
import { cardOf, cardsOf, sampleProfile } from '../helpers/assertions.js';
import { allowEverything, sampleSetting } from '../helpers/fake-upstreams.js';
import type { PrivacyBody, RecordedCall, Responder } from '../helpers/fake-upstreams.js';
import { AUTHORIZATION, gatewayFor, OTHER_AUTHORIZATION, XUIDS } from '../helpers/test-app.js';
import type { TestGateway, TestGatewayOptions } from '../helpers/test-app.js';

const [FRIEND_XUID, BLOCKED_XUID, BIG_XUID] = XUIDS;
const ALL_XUIDS_QUERY = `xuids=${XUIDS.join(',')}`;
const ALLOWED: PermissionResult = { isAllowed: true };
const BLOCKED: PermissionResult = {
  isAllowed: false,
  reasons: [{ reason: 'BlockListRestrictsTarget' }],
};

const FRIEND_RELATIONSHIP: Relationship = {
  inPeopleCollection: true,
  isFavorite: true,
  isFollowingCaller: false,
  socialNetworks: ['LegacyXboxLive'],
};
const NOT_IN_PEOPLE: Relationship = {
  inPeopleCollection: false,
  isFavorite: false,
  isFollowingCaller: false,
  socialNetworks: [],
};

/** Social: only the friend is in the caller's people collection. */
const friendOnly: Responder = () => ({
  body: {
    people: [{ xuid: FRIEND_XUID, isFavorite: true, socialNetworks: ['LegacyXboxLive'] }],
    totalCount: 1,
  },
});

function privacyBodyOf(call: RecordedCall): PrivacyBody {
  return call.body as PrivacyBody;
}

/** Privacy answering each asked (XUID, permission) with `decide`, in the asked order. */
function privacyDeciding(
  decide: (xuid: string, permission: string) => PermissionResult,
): Responder {
  return (call) => {
    const { users, permissions } = privacyBodyOf(call);
    return {
      body: {
        responses: users.map((user) => ({
          user: { xuid: user.xuid },
          permissions: permissions.map((permission) => decide(user.xuid, permission)),
        })),
      },
    };
  };
}

/** Privacy that allows everything except what `overrides` lists per XUID. */
function privacyWith(
  overrides: Readonly<Record<string, Readonly<Record<string, PermissionResult>>>>,
): Responder {
  return privacyDeciding((xuid, permission) => overrides[xuid]?.[permission] ?? ALLOWED);
}

/** Privacy whose answer for each XUID is edited by `edit` (which may drop, repeat or reshape it). */
function privacyEditing(
  edit: (xuid: string, permissions: readonly string[]) => unknown[] | undefined,
): Responder {
  return (call) => {
    const { users, permissions } = privacyBodyOf(call);
    const responses = users.flatMap(
      (user) =>
        edit(user.xuid, permissions) ?? [
          { user: { xuid: user.xuid }, permissions: permissions.map(() => ALLOWED) },
        ],
    );
    return { body: { responses } };
  };
}

/** A gateway closed after test `t` whose social is `friendOnly` unless `options` overrides it. */
function startGateway(t: TestContext, options: TestGatewayOptions = {}): Promise<TestGateway> {
  return gatewayFor(t, { ...options, responders: { social: friendOnly, ...options.responders } });
}

function assertServed(card: FriendCard): void {
  assert.equal(card.profileStatus, 'ok', `${card.xuid}: profileStatus is ok`);
  assert.deepEqual(card.profile, sampleProfile(card.xuid), `${card.xuid}: its own profile`);
}

function assertUntrusted(body: FriendCardsResult, xuid: string): void {
  const card = cardOf(body, xuid);
  assert.equal(card.profile, null, `${xuid}: no profile without a trustworthy privacy answer`);
  assert.equal(card.profileStatus, 'unavailable', `${xuid}: profileStatus is unavailable`);
  assert.equal(card.permissions, null, `${xuid}: permissions are null`);
  assert.deepEqual(
    body.errors,
    [{ upstream: 'privacy', code: 'bad_response' }],
    'errors names the privacy answer as a bad response',
  );
  assert.equal(body.partial, true, 'the answer is partial');
}

describe('denied profiles', () => {
  test('when privacy denies ViewTargetProfile for one XUID, that card has profile null and profileStatus denied', async (t) => {
    const gw = await startGateway(t, {
      responders: { privacy: privacyWith({ [BLOCKED_XUID]: { ViewTargetProfile: BLOCKED } }) },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    const blocked = cardOf(body, BLOCKED_XUID);
    assert.equal(blocked.profile, null, 'a denied XUID has no profile');
    assert.equal(blocked.profileStatus, 'denied', 'a denied XUID has profileStatus denied');
    assert.deepEqual(
      blocked.permissions,
      { ViewTargetProfile: BLOCKED },
      'the denial is reported with its reason',
    );
    assert.deepEqual(blocked.relationship, NOT_IN_PEOPLE, 'the relationship is still given');
    assertServed(cardOf(body, FRIEND_XUID));
    assertServed(cardOf(body, BIG_XUID));
    assert.equal(body.partial, false, 'a denial is an answer, not a failure');
    assert.deepEqual(body.errors, [], 'a denial adds no error');
    assert.ok(
      !res.text.includes(sampleSetting(BLOCKED_XUID, 'Gamertag')),
      'no profile value of the denied XUID appears anywhere in the response',
    );
  });

  test('when privacy gives deny reasons, permissions carry them exactly, unknown reasons included', async (t) => {
    const reasons: Record<string, PermissionResult> = {
      ViewTargetProfile: {
        isAllowed: false,
        reasons: [
          { reason: 'PrivilegeRestrictsTarget', restrictedSetting: 'AllowProfileViewing' },
          { reason: 'MissingPrivilege', restrictedPrivilege: 'ProfileViewing' },
          {
            reason: 'PrivacySettingsRestrictsTarget',
            restrictedSetting: 'ShareProfile',
            restrictedPrivilege: 'Communications',
          },
          { reason: 'SomeFutureReasonNobodyKnowsYet' },
        ],
      },
      CommunicateUsingText: {
        isAllowed: false,
        reasons: [
          { reason: 'MuteListRestrictsTarget' },
          { reason: 'CrossNetworkUserMustBeFriend' },
        ],
      },
    };
    const gw = await startGateway(t, {
      responders: { privacy: privacyWith({ [BLOCKED_XUID]: reasons }) },
    });

    const res = await gw.getCards(
      `${ALL_XUIDS_QUERY}&permissions=ViewTargetProfile,CommunicateUsingText`,
    );

    const blocked = cardOf(cardsOf(res), BLOCKED_XUID);
    assert.equal(blocked.profileStatus, 'denied', 'the profile is denied');
    assert.deepEqual(blocked.permissions, reasons, 'every reason is passed through as given');
  });

  test('when an allowed permission carries reasons, they are passed through too', async (t) => {
    const allowedWithReasons: PermissionResult = {
      isAllowed: true,
      reasons: [{ reason: 'Unknown' }],
    };
    const gw = await startGateway(t, {
      responders: {
        privacy: privacyWith({ [FRIEND_XUID]: { ViewTargetProfile: allowedWithReasons } }),
      },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const friend = cardOf(cardsOf(res), FRIEND_XUID);
    assertServed(friend);
    assert.deepEqual(
      friend.permissions,
      { ViewTargetProfile: allowedWithReasons },
      'the result is reported exactly as given',
    );
  });
});

describe('which permissions are asked and reported', () => {
  test('when the client does not ask for ViewTargetProfile, it is still sent to privacy but not reported', async (t) => {
    const gw = await startGateway(t);

    const res = await gw.getCards(`${ALL_XUIDS_QUERY}&permissions=CommunicateUsingText`);

    const body = cardsOf(res);
    const [call] = gw.upstreams.callsTo('privacy');
    assert.ok(call, 'privacy was called');
    assert.ok(
      privacyBodyOf(call).permissions.includes('ViewTargetProfile'),
      'ViewTargetProfile is always checked',
    );
    assert.ok(
      privacyBodyOf(call).permissions.includes('CommunicateUsingText'),
      'the asked permission is checked',
    );
    for (const card of body.cards) {
      assert.deepEqual(
        card.permissions,
        { CommunicateUsingText: ALLOWED },
        `${card.xuid}: only the asked permission is reported`,
      );
      assertServed(card);
    }
  });

  test('when the unasked ViewTargetProfile is denied, the profile is withheld although the asked permission is allowed', async (t) => {
    const gw = await startGateway(t, {
      responders: { privacy: privacyWith({ [BLOCKED_XUID]: { ViewTargetProfile: BLOCKED } }) },
    });

    const res = await gw.getCards(`${ALL_XUIDS_QUERY}&permissions=CommunicateUsingText`);

    const blocked = cardOf(cardsOf(res), BLOCKED_XUID);
    assert.equal(blocked.profile, null, 'the unasked check still gates the profile');
    assert.equal(blocked.profileStatus, 'denied', 'profileStatus is denied');
    assert.deepEqual(
      blocked.permissions,
      { CommunicateUsingText: ALLOWED },
      'the unasked ViewTargetProfile is not reported',
    );
  });

  test('when no permissions are asked, ViewTargetProfile is checked once and reported', async (t) => {
    const gw = await startGateway(t);

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    const [call] = gw.upstreams.callsTo('privacy');
    assert.deepEqual(
      call && privacyBodyOf(call).permissions,
      ['ViewTargetProfile'],
      'privacy is asked for ViewTargetProfile alone, once',
    );
    assert.deepEqual(
      call && privacyBodyOf(call).users,
      XUIDS.map((xuid) => ({ xuid })),
      'privacy is asked about every requested XUID',
    );
    for (const card of body.cards) {
      assert.deepEqual(card.permissions, { ViewTargetProfile: ALLOWED }, `${card.xuid}: reported`);
    }
  });

  test('when several permissions are asked, they appear in the asked order with the positional results mapped to them', async (t) => {
    const asked = ['CommunicateUsingText', 'ViewTargetProfile', 'PlayMultiplayer'];
    // Results by position only, so a mapping by anything but position gives wrong answers.
    const positional: PermissionResult[] = [
      { isAllowed: false, reasons: [{ reason: 'MuteListRestrictsTarget' }] },
      { isAllowed: true },
      {
        isAllowed: false,
        reasons: [{ reason: 'PrivilegeRestrictsTarget', restrictedSetting: 'AllowMultiplayer' }],
      },
    ];
    const gw = await startGateway(t, {
      responders: {
        privacy: (call) => ({
          body: {
            responses: privacyBodyOf(call).users.map((user) => ({
              user,
              permissions: positional,
            })),
          },
        }),
      },
    });

    const res = await gw.getCards(`${ALL_XUIDS_QUERY}&permissions=${asked.join(',')}`);

    const body = cardsOf(res);
    const [call] = gw.upstreams.callsTo('privacy');
    assert.deepEqual(
      call && privacyBodyOf(call).permissions,
      asked,
      'privacy is asked in the client order',
    );
    for (const card of body.cards) {
      assert.deepEqual(
        Object.keys(card.permissions ?? {}),
        asked,
        `${card.xuid}: permissions in the asked order`,
      );
      assert.deepEqual(
        card.permissions,
        {
          CommunicateUsingText: positional[0],
          ViewTargetProfile: positional[1],
          PlayMultiplayer: positional[2],
        },
        `${card.xuid}: result i answers asked permission i`,
      );
      assertServed(card);
    }
  });

  test('when ViewTargetProfile is not asked and privacy denies the appended check, the asked results keep their positions', async (t) => {
    const positional: PermissionResult[] = [
      { isAllowed: true },
      { isAllowed: false, reasons: [{ reason: 'NotAllowed' }] },
      {
        isAllowed: false,
        reasons: [{ reason: 'PrivacySettingRestrictsTarget', restrictedSetting: 'ShareProfile' }],
      },
    ];
    const gw = await startGateway(t, {
      responders: {
        privacy: (call) => ({
          body: {
            responses: privacyBodyOf(call).users.map((user) => ({ user, permissions: positional })),
          },
        }),
      },
    });

    const res = await gw.getCards(`${ALL_XUIDS_QUERY}&permissions=PlayMultiplayer,WriteComment`);

    const body = cardsOf(res);
    const [call] = gw.upstreams.callsTo('privacy');
    assert.deepEqual(
      call && privacyBodyOf(call).permissions,
      ['PlayMultiplayer', 'WriteComment', 'ViewTargetProfile'],
      'ViewTargetProfile is checked after the asked permissions',
    );
    for (const card of body.cards) {
      assert.deepEqual(
        card.permissions,
        { PlayMultiplayer: positional[0], WriteComment: positional[1] },
        `${card.xuid}: asked results by position, the appended check not reported`,
      );
      assert.equal(
        card.profileStatus,
        'denied',
        `${card.xuid}: the third result denies the profile`,
      );
      assert.equal(card.profile, null, `${card.xuid}: no profile`);
    }
  });
});

describe('privacy failing closed', () => {
  interface PrivacyFailure {
    readonly name: string;
    readonly env?: Readonly<Record<string, string>>;
    readonly responder: Responder;
    readonly code: FailureKind;
    /** Statuses the error entry may carry; `undefined` means "no status member". */
    readonly statuses: readonly (number | undefined)[];
  }
  const failures: readonly PrivacyFailure[] = [
    {
      name: 'answers 500',
      responder: () => ({ status: 500 }),
      code: 'unavailable',
      statuses: [500],
    },
    {
      name: 'answers 404',
      responder: () => ({ status: 404 }),
      code: 'unavailable',
      statuses: [404],
    },
    {
      name: 'times out',
      env: { REQUEST_DEADLINE_MS: '300' },
      responder: () => ({ hang: true }),
      code: 'timeout',
      statuses: [undefined],
    },
    {
      name: 'answers malformed JSON',
      responder: () => ({ rawBody: '{"responses":[{"user":{"xuid":"1"},' }),
      code: 'bad_response',
      statuses: [undefined, 200],
    },
    {
      name: 'answers the wrong shape',
      responder: (call) => ({
        body: {
          responses: privacyBodyOf(call).users.map((user) => ({
            user,
            permissions: [{ isAllowed: 'true' }],
          })),
        },
      }),
      code: 'bad_response',
      statuses: [undefined, 200],
    },
    {
      name: 'answers a bare array',
      responder: () => ({ body: [] }),
      code: 'bad_response',
      statuses: [undefined, 200],
    },
    {
      name: 'resets the connection',
      responder: () => ({ reset: true }),
      code: 'unavailable',
      statuses: [undefined],
    },
  ];

  for (const failure of failures) {
    test(`when the privacy upstream ${failure.name}, profiles are null with profileStatus unavailable and permissions null while relationships survive`, async (t) => {
      const gw = await startGateway(t, {
        env: failure.env ?? {},
        responders: { privacy: failure.responder },
      });

      const res = await gw.getCards(
        `${ALL_XUIDS_QUERY}&permissions=ViewTargetProfile,PlayMultiplayer`,
      );

      const body = cardsOf(res);
      for (const card of body.cards) {
        assert.equal(card.profile, null, `${card.xuid}: no profile without a privacy answer`);
        assert.equal(card.profileStatus, 'unavailable', `${card.xuid}: profileStatus unavailable`);
        assert.equal(card.permissions, null, `${card.xuid}: permissions null`);
      }
      assert.deepEqual(
        cardOf(body, FRIEND_XUID).relationship,
        FRIEND_RELATIONSHIP,
        'the relationship survives',
      );
      assert.deepEqual(
        cardOf(body, BIG_XUID).relationship,
        NOT_IN_PEOPLE,
        'the default relationship survives',
      );
      assert.equal(body.partial, true, 'the answer is partial');
      assert.equal(body.errors.length, 1, `one error entry: ${JSON.stringify(body.errors)}`);
      const entry = body.errors[0];
      assert.ok(entry, 'an error entry is present');
      assert.equal(entry.upstream, 'privacy', 'the error names privacy');
      assert.equal(entry.code, failure.code, `the error code is ${failure.code}`);
      assert.ok(
        failure.statuses.includes(entry.status),
        `the error status is one of ${JSON.stringify(failure.statuses)}, got ${String(entry.status)}`,
      );
      if (!failure.statuses.includes(undefined)) {
        assert.ok('status' in entry, 'the entry carries the upstream status');
      }
      assert.ok(
        !res.text.includes(sampleSetting(FRIEND_XUID, 'Gamertag')),
        'no profile value appears anywhere in the response',
      );
    });
  }
});

describe('untrustworthy privacy answers', () => {
  test('when a XUID is absent from the privacy answer, it gets no profile and privacy is reported as bad_response', async (t) => {
    const gw = await startGateway(t, {
      responders: { privacy: privacyEditing((xuid) => (xuid === BLOCKED_XUID ? [] : undefined)) },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    assertUntrusted(body, BLOCKED_XUID);
    assertServed(cardOf(body, FRIEND_XUID));
    assertServed(cardOf(body, BIG_XUID));
  });

  for (const [name, resize] of [
    ['one result too few', (results: PermissionResult[]) => results.slice(1)],
    ['one result too many', (results: PermissionResult[]) => [...results, ALLOWED]],
    ['no results', () => []],
  ] as const) {
    test(`when a XUID's answer has ${name} for the asked permissions, it gets no profile and privacy is reported as bad_response`, async (t) => {
      const gw = await startGateway(t, {
        responders: {
          privacy: privacyEditing((xuid, permissions) =>
            xuid === BLOCKED_XUID
              ? [{ user: { xuid }, permissions: resize(permissions.map(() => ALLOWED)) }]
              : undefined,
          ),
        },
      });

      const res = await gw.getCards(`${ALL_XUIDS_QUERY}&permissions=ViewTargetProfile,ShareItem`);

      const body = cardsOf(res);
      assertUntrusted(body, BLOCKED_XUID);
      assertServed(cardOf(body, FRIEND_XUID));
      assertServed(cardOf(body, BIG_XUID));
      assert.deepEqual(
        cardOf(body, FRIEND_XUID).permissions,
        { ViewTargetProfile: ALLOWED, ShareItem: ALLOWED },
        'the other XUIDs keep their permissions',
      );
    });
  }

  for (const [name, first, second] of [
    ['allowed first, then denied', ALLOWED, BLOCKED],
    ['denied first, then allowed', BLOCKED, ALLOWED],
  ] as const) {
    test(`when a XUID is listed twice with different answers (${name}), it gets no profile`, async (t) => {
      const gw = await startGateway(t, {
        responders: {
          privacy: privacyEditing((xuid) =>
            xuid === BLOCKED_XUID
              ? [
                  { user: { xuid }, permissions: [first] },
                  { user: { xuid }, permissions: [second] },
                ]
              : undefined,
          ),
        },
      });

      const res = await gw.getCards(ALL_XUIDS_QUERY);

      const body = cardsOf(res);
      assertUntrusted(body, BLOCKED_XUID);
      assertServed(cardOf(body, FRIEND_XUID));
      assertServed(cardOf(body, BIG_XUID));
    });
  }

  test('when a XUID is listed three times and only the middle answer differs, it still gets no profile', async (t) => {
    const gw = await startGateway(t, {
      responders: {
        privacy: privacyEditing((xuid) =>
          xuid === BLOCKED_XUID
            ? [
                { user: { xuid }, permissions: [ALLOWED] },
                { user: { xuid }, permissions: [BLOCKED] },
                { user: { xuid }, permissions: [ALLOWED] },
              ]
            : undefined,
        ),
      },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assertUntrusted(cardsOf(res), BLOCKED_XUID);
  });

  test('when a XUID is listed first with a wrong count and then with a good answer, it still gets no profile', async (t) => {
    const gw = await startGateway(t, {
      responders: {
        privacy: privacyEditing((xuid) =>
          xuid === BLOCKED_XUID
            ? [
                { user: { xuid }, permissions: [ALLOWED, ALLOWED] },
                { user: { xuid }, permissions: [ALLOWED] },
              ]
            : undefined,
        ),
      },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assertUntrusted(cardsOf(res), BLOCKED_XUID);
  });

  test('when a XUID is listed twice with identical answers, its card is served normally', async (t) => {
    const gw = await startGateway(t, {
      responders: {
        privacy: privacyEditing((xuid) =>
          xuid === BLOCKED_XUID
            ? [
                { user: { xuid }, permissions: [ALLOWED] },
                { user: { xuid }, permissions: [ALLOWED] },
              ]
            : undefined,
        ),
      },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    for (const card of body.cards) assertServed(card);
    assert.deepEqual(body.errors, [], 'identical repeats are no error');
    assert.equal(body.partial, false, 'identical repeats do not make the answer partial');
  });

  test('when a XUID is listed twice with the same denial written with members in another order, it is denied normally', async (t) => {
    const users = XUIDS.filter((xuid) => xuid !== BLOCKED_XUID).map(
      (xuid) => `{"user":{"xuid":"${xuid}"},"permissions":[{"isAllowed":true}]}`,
    );
    const rawBody = `{"responses":[${[
      ...users,
      `{"user":{"xuid":"${BLOCKED_XUID}"},"permissions":[{"isAllowed":false,"reasons":[{"reason":"PrivilegeRestrictsTarget","restrictedSetting":"AllowProfileViewing"}]}]}`,
      `{"permissions":[{"reasons":[{"restrictedSetting":"AllowProfileViewing","reason":"PrivilegeRestrictsTarget"}],"isAllowed":false}],"user":{"xuid":"${BLOCKED_XUID}"}}`,
    ].join(',')}]}`;
    const gw = await startGateway(t, { responders: { privacy: () => ({ rawBody }) } });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    const blocked = cardOf(body, BLOCKED_XUID);
    assert.equal(
      blocked.profileStatus,
      'denied',
      'the same answer in another member order is one answer',
    );
    assert.deepEqual(
      blocked.permissions,
      {
        ViewTargetProfile: {
          isAllowed: false,
          reasons: [
            { reason: 'PrivilegeRestrictsTarget', restrictedSetting: 'AllowProfileViewing' },
          ],
        },
      },
      'the denial is reported once, as given',
    );
    assert.deepEqual(body.errors, [], 'no error for a consistent repeat');
  });

  test('when the privacy answer has entries for XUIDs that were not asked, they are ignored', async (t) => {
    const strangers = ['1234', '2533274791381931', '99999999999999999999'];
    const gw = await startGateway(t, {
      responders: {
        privacy: async (call) => {
          const answer = await allowEverything(call);
          const { responses } = answer.body as { responses: unknown[] };
          const extra = strangers.map((xuid) => ({ user: { xuid }, permissions: [BLOCKED] }));
          return { body: { responses: [...extra, ...responses, { user: {}, permissions: [] }] } };
        },
      },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    assert.deepEqual(
      body.cards.map((card) => card.xuid),
      [...XUIDS],
      'no card for an unasked XUID',
    );
    for (const card of body.cards) assertServed(card);
    assert.deepEqual(body.errors, [], 'unasked entries are no error');
  });

  test('when the privacy answer speaks only of unasked XUIDs, the asked XUIDs get no profile', async (t) => {
    const gw = await startGateway(t, {
      responders: {
        privacy: () => ({
          body: { responses: [{ user: { xuid: '1234' }, permissions: [ALLOWED] }] },
        }),
      },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    for (const xuid of XUIDS) assertUntrusted(body, xuid);
  });

  test('when the privacy answer carries __proto__ and constructor keys, they stay plain data and nothing is polluted', async (t) => {
    const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();
    const pollute = '{"polluted":"yes","isAllowed":true}';
    const rawBody = `{"__proto__":${pollute},"constructor":{"prototype":${pollute}},"responses":[
      {"user":{"xuid":"${FRIEND_XUID}"},"permissions":[{"isAllowed":true}]},
      {"__proto__":${pollute},"user":{"xuid":"${BLOCKED_XUID}","__proto__":${pollute}},"permissions":[{"isAllowed":false,"reasons":[{"reason":"NotAllowed","__proto__":${pollute},"constructor":{"prototype":${pollute}}}],"constructor":{"prototype":${pollute}}}]},
      {"user":{"xuid":"${BIG_XUID}","constructor":{"prototype":${pollute}}},"permissions":[{"isAllowed":true}]},
      {"user":{"xuid":"__proto__"},"permissions":[{"isAllowed":false}]},
      {"user":{"xuid":"constructor"},"permissions":[{"isAllowed":false}]}
    ]}`;
    const gw = await startGateway(t, { responders: { privacy: () => ({ rawBody }) } });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assert.equal(
      ({} as Record<string, unknown>).polluted,
      undefined,
      'Object.prototype is not polluted',
    );
    assert.equal(
      ({} as Record<string, unknown>).isAllowed,
      undefined,
      'no isAllowed leaks onto objects',
    );
    assert.deepEqual(
      Object.getOwnPropertyNames(Object.prototype).sort(),
      prototypeNames,
      'Object.prototype has no new members',
    );
    const body = cardsOf(res);
    assert.ok(!res.text.includes('polluted'), 'no hostile member reaches the client');
    assert.deepEqual(
      body.cards.map((card) => card.xuid),
      [...XUIDS],
      'no card for __proto__ or constructor',
    );
    assertServed(cardOf(body, FRIEND_XUID));
    assertServed(cardOf(body, BIG_XUID));
    const blocked = cardOf(body, BLOCKED_XUID);
    assert.equal(
      blocked.profileStatus,
      'denied',
      'a __proto__ member does not turn a denial into an allow',
    );
    assert.deepEqual(
      blocked.permissions,
      { ViewTargetProfile: { isAllowed: false, reasons: [{ reason: 'NotAllowed' }] } },
      'the denial is reported without the hostile members',
    );
    assert.deepEqual(body.errors, [], 'the entries for __proto__ and constructor are ignored');
  });

  test('when a permission result holds isAllowed only under __proto__, no profile is granted and the process keeps serving', async (t) => {
    const rawBody = `{"responses":[
      {"user":{"xuid":"${FRIEND_XUID}"},"permissions":[{"isAllowed":true}]},
      {"user":{"xuid":"${BLOCKED_XUID}"},"permissions":[{"isAllowed":false}]},
      {"user":{"xuid":"${BIG_XUID}"},"permissions":[{"__proto__":{"isAllowed":true}}]}
    ]}`;
    const gw = await startGateway(t, { responders: { privacy: () => ({ rawBody }) } });

    const res = await gw.getCards(ALL_XUIDS_QUERY);
    gw.upstreams.respond('privacy', allowEverything);
    const after = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    const big = cardOf(body, BIG_XUID);
    assert.equal(big.profile, null, 'an inherited isAllowed never grants a profile');
    assert.equal(big.profileStatus, 'unavailable', 'the malformed result makes it unavailable');
    assert.ok(
      body.errors.some((entry) => entry.upstream === 'privacy' && entry.code === 'bad_response'),
      `privacy is reported as a bad response: ${JSON.stringify(body.errors)}`,
    );
    assert.equal(({} as Record<string, unknown>).isAllowed, undefined, 'nothing is polluted');
    for (const card of cardsOf(after).cards) assertServed(card);
  });
});

describe('cached profiles and privacy', () => {
  async function cacheProfiles(gw: TestGateway): Promise<void> {
    const first = await gw.getCards(ALL_XUIDS_QUERY);
    for (const card of cardsOf(first).cards) assertServed(card);
    assert.equal(gw.upstreams.callsTo('profile').length, 1, 'the first request fetched profiles');
  }

  function assertServedFromCache(gw: TestGateway): void {
    assert.equal(
      gw.upstreams.callsTo('profile').length,
      1,
      'the later request found the profiles in cache, so cached data was what had to be withheld',
    );
  }

  test('when a later request is denied by its own privacy answer, the cached profile is not served', async (t) => {
    const gw = await startGateway(t);
    await cacheProfiles(gw);
    gw.upstreams.respond(
      'privacy',
      privacyWith({ [BLOCKED_XUID]: { ViewTargetProfile: BLOCKED } }),
    );

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    const blocked = cardOf(body, BLOCKED_XUID);
    assert.equal(blocked.profile, null, 'the cached profile is withheld');
    assert.equal(blocked.profileStatus, 'denied', 'profileStatus is denied');
    assertServed(cardOf(body, FRIEND_XUID));
    assertServedFromCache(gw);
  });

  test('when a later request finds privacy failing, no cached profile is served', async (t) => {
    const gw = await startGateway(t);
    await cacheProfiles(gw);
    gw.upstreams.respond('privacy', () => ({ status: 503 }));

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    for (const card of body.cards) {
      assert.equal(card.profile, null, `${card.xuid}: the cached profile is withheld`);
      assert.equal(card.profileStatus, 'unavailable', `${card.xuid}: profileStatus unavailable`);
    }
    assert.deepEqual(
      body.errors,
      [{ upstream: 'privacy', code: 'unavailable', status: 503 }],
      'privacy failed',
    );
    assertServedFromCache(gw);
  });

  test('when a later request gets no privacy answer for a XUID, its cached profile is not served', async (t) => {
    const gw = await startGateway(t);
    await cacheProfiles(gw);
    gw.upstreams.respond(
      'privacy',
      privacyEditing((xuid) => (xuid === BLOCKED_XUID ? [] : undefined)),
    );

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assertUntrusted(cardsOf(res), BLOCKED_XUID);
    assertServedFromCache(gw);
  });

  test('when another caller is denied, the profile cached for the first caller is not served to them', async (t) => {
    const gw = await startGateway(t, {
      responders: {
        privacy: (call) =>
          call.headers.authorization === OTHER_AUTHORIZATION
            ? privacyWith({ [BLOCKED_XUID]: { ViewTargetProfile: BLOCKED } })(call)
            : allowEverything(call),
      },
    });
    await cacheProfiles(gw);

    const res = await gw.getCards(ALL_XUIDS_QUERY, OTHER_AUTHORIZATION);

    const body = cardsOf(res);
    assert.equal(
      cardOf(body, BLOCKED_XUID).profile,
      null,
      'the other caller is denied the profile',
    );
    assert.equal(cardOf(body, BLOCKED_XUID).profileStatus, 'denied', 'profileStatus is denied');
    assertServed(cardOf(body, FRIEND_XUID));
    assertServedFromCache(gw);
  });

  test('when privacy denies first and allows later, the later request gets the profile: decisions are never cached', async (t) => {
    const gw = await startGateway(t, {
      responders: { privacy: privacyWith({ [BLOCKED_XUID]: { ViewTargetProfile: BLOCKED } }) },
    });
    const first = await gw.getCards(ALL_XUIDS_QUERY);
    assert.equal(cardOf(cardsOf(first), BLOCKED_XUID).profileStatus, 'denied', 'denied at first');
    gw.upstreams.respond('privacy', allowEverything);

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assertServed(cardOf(cardsOf(res), BLOCKED_XUID));
    assert.equal(gw.upstreams.callsTo('privacy').length, 2, 'privacy is asked on every request');
  });

  test("when two callers ask, each privacy call carries that caller's own Authorization", async (t) => {
    const gw = await startGateway(t);

    await gw.getCards(ALL_XUIDS_QUERY);
    await gw.getCards(ALL_XUIDS_QUERY, OTHER_AUTHORIZATION);

    assert.deepEqual(
      gw.upstreams.callsTo('privacy').map((call) => call.headers.authorization),
      [AUTHORIZATION, OTHER_AUTHORIZATION],
      'privacy decides for the caller who asked',
    );
  });
});
