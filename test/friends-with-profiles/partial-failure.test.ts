import { test, describe } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Response } from 'supertest';
import type { FailureKind } from '../../src/errors.js';
import type { FriendCard, Relationship } from '../../src/friend-cards/friend-card.js';
import { cardOf, cardsOf, sampleProfile } from '../helpers/assertions.js';
import { allProfiles, allowEverything } from '../helpers/fake-upstreams.js';
import type {
  FakeUpstreamName,
  PrivacyBody,
  ProfileBody,
  Responder,
  SocialBody,
} from '../helpers/fake-upstreams.js';
import { gatewayFor, OTHER_AUTHORIZATION, XUIDS } from '../helpers/test-app.js';
import type { TestGateway, TestGatewayOptions } from '../helpers/test-app.js';

/** Where the recorded Xbox Live answers live (read in place, never copied). */
const RECORDED_DIR = new URL('../fixtures/recorded/', import.meta.url);

const [FAVORITE_XUID, STRANGER_XUID, BIG_XUID] = XUIDS;
const ALL_XUIDS_QUERY = `xuids=${XUIDS.join(',')}`;
const SMALL_DEADLINE_MS = 300;
const UPSTREAMS: readonly FakeUpstreamName[] = ['social', 'profile', 'privacy'];

const NOT_IN_PEOPLE: Relationship = {
  inPeopleCollection: false,
  isFavorite: false,
  isFollowingCaller: false,
  socialNetworks: [],
};
const FAVORITE_RELATIONSHIP: Relationship = {
  inPeopleCollection: true,
  isFavorite: true,
  isFollowingCaller: true,
  socialNetworks: ['LegacyXboxLive'],
};
const BIG_XUID_RELATIONSHIP: Relationship = {
  inPeopleCollection: true,
  isFavorite: false,
  isFollowingCaller: false,
  socialNetworks: [],
};

/** Social: the favourite (every member given) and the big XUID (optional members left out). */
const somePeople: Responder = (call) => {
  const { xuids } = call.body as SocialBody;
  const people: unknown[] = [];
  if (xuids.includes(FAVORITE_XUID)) {
    people.push({
      xuid: FAVORITE_XUID,
      isFavorite: true,
      isFollowingCaller: true,
      socialNetworks: ['LegacyXboxLive'],
    });
  }
  if (xuids.includes(BIG_XUID)) people.push({ xuid: BIG_XUID, isFavorite: false });
  return { body: { people, totalCount: people.length } };
};

const HEALTHY: Readonly<Record<FakeUpstreamName, Responder>> = {
  social: somePeople,
  profile: allProfiles,
  privacy: allowEverything,
};

function expectedRelationship(xuid: string): Relationship {
  if (xuid === FAVORITE_XUID) return FAVORITE_RELATIONSHIP;
  if (xuid === BIG_XUID) return BIG_XUID_RELATIONSHIP;
  return NOT_IN_PEOPLE;
}

/** A gateway closed after `t` whose upstreams are `HEALTHY` unless `options` overrides them. */
function startGateway(t: TestContext, options: TestGatewayOptions = {}): Promise<TestGateway> {
  return gatewayFor(t, { ...options, responders: { ...HEALTHY, ...options.responders } });
}

/**
 * Puts every upstream back to health and proves the gateway still answers a full 200. After a
 * 429 the throttled caller may rightly be held back until Retry-After (API.md §5 rule 4), so
 * pass another caller's `authorization` there.
 */
async function assertStillServes(gw: TestGateway, authorization?: string): Promise<void> {
  for (const upstream of UPSTREAMS) gw.upstreams.respond(upstream, HEALTHY[upstream]);

  const res = await gw.getCards(ALL_XUIDS_QUERY, authorization);

  const body = cardsOf(res);
  assert.equal(body.partial, false, 'after the upstreams recover, the answer is complete again');
  assert.deepEqual(body.errors, [], 'after the upstreams recover, errors is empty');
  assert.deepEqual(
    body.cards.map((card) => card.profileStatus),
    XUIDS.map(() => 'ok'),
    'after the upstreams recover, every profile is served',
  );
}

/** Asserts a problem answer to a failed request (any `type`), carrying no cards and no stack. */
function assertFailureProblem(res: Response, status: number): Record<string, unknown> {
  assert.equal(res.status, status, `expected status ${status}, got ${res.status}: ${res.text}`);
  assert.match(
    String(res.headers['content-type']),
    /^application\/problem\+json/,
    'a failed request answers RFC 9457 problem+json',
  );
  const body = res.body as Record<string, unknown>;
  assert.equal(body.status, status, 'the problem body repeats the HTTP status');
  assert.equal(typeof body.type, 'string', 'the problem has a type');
  assert.equal(typeof body.title, 'string', 'the problem has a title');
  assert.equal(
    body.requestId,
    res.headers['x-request-id'],
    'the problem names the request id echoed in X-Request-Id',
  );
  assert.equal(body.cards, undefined, 'a problem carries no cards');
  assert.equal(body.stack, undefined, 'a problem carries no stack trace');
  return body;
}

// ---------------------------------------------------------------------------------------------
// Failure modes of one upstream, and what each must become in `errors[]`.

interface FailureMode {
  readonly name: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly responder: (upstream: FakeUpstreamName) => Responder;
  readonly code: FailureKind;
  /** Statuses the error entry may carry; `undefined` in the list means "no status member". */
  readonly statuses: readonly (number | undefined)[];
}

const UPSTREAM_SECRET = 'upstream-internal-detail-7f3a';
const MAX_BODY_BYTES = 2048;

/** A healthy answer padded with an ignored member until it is larger than the body cap. */
function oversized(upstream: FakeUpstreamName): Responder {
  return async (call) => {
    const answer = await HEALTHY[upstream](call);
    return {
      ...answer,
      body: { ...(answer.body as object), padding: 'x'.repeat(MAX_BODY_BYTES * 2) },
    };
  };
}

/** Answers of the right syntax but the wrong types: a number where a string belongs, etc. */
const WRONG_SCHEMA: Readonly<Record<FakeUpstreamName, unknown>> = {
  social: { people: [{ xuid: 2533274791381930, isFavorite: true }] },
  profile: {
    profileUsers: [{ id: FAVORITE_XUID, settings: [{ id: 'Gamerscore', value: 98096 }] }],
  },
  privacy: { responses: [{ user: { xuid: FAVORITE_XUID }, permissions: [{ isAllowed: 'yes' }] }] },
};

const THROTTLE_BODY = {
  version: 1,
  currentRequests: 11,
  maxRequests: 10,
  periodInSeconds: 15,
  limitType: 'Rate',
};

const FAILURE_MODES: readonly FailureMode[] = [
  {
    name: 'answers 500',
    responder: () => () => ({ status: 500, body: { error: UPSTREAM_SECRET } }),
    code: 'unavailable',
    statuses: [500],
  },
  {
    name: 'answers 503',
    responder: () => () => ({
      status: 503,
      headers: { 'retry-after': '2' },
      body: { error: UPSTREAM_SECRET },
    }),
    code: 'unavailable',
    statuses: [503],
  },
  {
    name: 'times out',
    env: { REQUEST_DEADLINE_MS: String(SMALL_DEADLINE_MS) },
    responder: () => () => ({ hang: true }),
    code: 'timeout',
    statuses: [undefined],
  },
  {
    name: 'answers malformed JSON',
    responder: () => () => ({ rawBody: '{"people": [{"xuid": "25332747' }),
    code: 'bad_response',
    statuses: [undefined, 200],
  },
  {
    name: 'answers the wrong schema',
    responder: (upstream) => () => ({ body: WRONG_SCHEMA[upstream] }),
    code: 'bad_response',
    statuses: [undefined, 200],
  },
  {
    name: 'resets the connection',
    responder: () => () => ({ reset: true }),
    code: 'unavailable',
    statuses: [undefined],
  },
  {
    name: 'answers a body over UPSTREAM_MAX_BODY_BYTES',
    env: { UPSTREAM_MAX_BODY_BYTES: String(MAX_BODY_BYTES) },
    responder: oversized,
    code: 'bad_response',
    statuses: [undefined, 200],
  },
  {
    name: 'answers a body whose Content-Length is over UPSTREAM_MAX_BODY_BYTES',
    env: { UPSTREAM_MAX_BODY_BYTES: String(MAX_BODY_BYTES) },
    responder: (upstream) => async (call) => {
      const answer = await HEALTHY[upstream](call);
      const rawBody = JSON.stringify({
        ...(answer.body as object),
        padding: 'y'.repeat(MAX_BODY_BYTES * 2),
      });
      return { rawBody, headers: { 'content-length': String(Buffer.byteLength(rawBody)) } };
    },
    code: 'bad_response',
    statuses: [undefined, 200],
  },
  {
    name: 'throttles with 429 and Retry-After',
    responder: () => () => ({
      status: 429,
      headers: { 'retry-after': '7' },
      body: THROTTLE_BODY,
    }),
    code: 'throttled',
    statuses: [429],
  },
];

/** What must survive when one upstream fails: every part the failed one does not own. */
const SURVIVING_PARTS: Readonly<
  Record<FakeUpstreamName, { readonly describe: string; check(card: FriendCard): void }>
> = {
  social: {
    describe: 'relationship is null but profiles and permissions are present',
    check(card) {
      assert.equal(card.relationship, null, `${card.xuid}: relationship is null`);
      assert.equal(card.profileStatus, 'ok', `${card.xuid}: the profile is still served`);
      assert.deepEqual(card.profile, sampleProfile(card.xuid), `${card.xuid}: profile intact`);
      assert.deepEqual(
        card.permissions,
        { ViewTargetProfile: { isAllowed: true } },
        `${card.xuid}: permissions intact`,
      );
    },
  },
  profile: {
    describe:
      'profiles are null with profileStatus unavailable but relationship and permissions are present',
    check(card) {
      assert.equal(card.profile, null, `${card.xuid}: profile is null`);
      assert.equal(card.profileStatus, 'unavailable', `${card.xuid}: profileStatus unavailable`);
      assert.deepEqual(
        card.relationship,
        expectedRelationship(card.xuid),
        `${card.xuid}: relationship intact`,
      );
      assert.deepEqual(
        card.permissions,
        { ViewTargetProfile: { isAllowed: true } },
        `${card.xuid}: permissions intact`,
      );
    },
  },
  privacy: {
    describe: 'profiles and permissions are null (fail closed) but relationships are present',
    check(card) {
      assert.equal(card.profile, null, `${card.xuid}: profile is withheld without privacy`);
      assert.equal(card.profileStatus, 'unavailable', `${card.xuid}: profileStatus unavailable`);
      assert.equal(card.permissions, null, `${card.xuid}: permissions are null`);
      assert.deepEqual(
        card.relationship,
        expectedRelationship(card.xuid),
        `${card.xuid}: relationship intact`,
      );
    },
  },
};

describe('one upstream failing alone gives a partial 200', () => {
  for (const upstream of UPSTREAMS) {
    for (const mode of FAILURE_MODES) {
      test(`when the ${upstream} upstream ${mode.name}, the answer is partial with one ${mode.code} error and ${SURVIVING_PARTS[upstream].describe}`, async (t) => {
        const gw = await startGateway(t, {
          env: mode.env ?? {},
          responders: { [upstream]: mode.responder(upstream) },
        });

        const startedAt = performance.now();
        const res = await gw.getCards(ALL_XUIDS_QUERY);
        const elapsedMs = performance.now() - startedAt;

        const body = cardsOf(res);
        assert.equal(body.partial, true, 'a missing part makes the answer partial');
        assert.equal(
          body.errors.length,
          1,
          `exactly one error entry: ${JSON.stringify(body.errors)}`,
        );
        const entry = body.errors[0];
        assert.ok(entry, 'an error entry is present');
        assert.equal(entry.upstream, upstream, `the error names the ${upstream} upstream`);
        assert.equal(entry.code, mode.code, `the error code is ${mode.code}`);
        assert.ok(
          mode.statuses.includes(entry.status),
          `the error status is one of ${JSON.stringify(mode.statuses)}, got ${String(entry.status)}`,
        );
        if (!mode.statuses.includes(undefined)) {
          assert.ok('status' in entry, 'the entry carries the upstream status');
        } else if (mode.statuses.length === 1) {
          assert.ok(!('status' in entry), 'the entry has no status member');
        }
        assert.deepEqual(
          body.cards.map((card) => card.xuid),
          [...XUIDS],
          'one card per XUID, in request order',
        );
        for (const card of body.cards) SURVIVING_PARTS[upstream].check(card);
        assert.ok(!res.text.includes(UPSTREAM_SECRET), 'no upstream body reaches the client');
        assert.ok(
          elapsedMs < 1500,
          `answered within the deadline, took ${Math.round(elapsedMs)} ms`,
        );
        await assertStillServes(gw, mode.code === 'throttled' ? OTHER_AUTHORIZATION : undefined);
      });
    }
  }
});

describe('whole-request failures', () => {
  test('when every upstream answers 500, the client gets a 502 problem without upstream bodies', async (t) => {
    const fail: Responder = () => ({ status: 500, body: { error: UPSTREAM_SECRET } });
    const gw = await startGateway(t, {
      responders: { social: fail, profile: fail, privacy: fail },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assertFailureProblem(res, 502);
    assert.ok(!res.text.includes(UPSTREAM_SECRET), 'no upstream body reaches the client');
    await assertStillServes(gw);
  });

  test('when every upstream fails in a different way, the client gets a 502 problem', async (t) => {
    const gw = await startGateway(t, {
      responders: {
        social: () => ({ status: 503 }),
        profile: () => ({ rawBody: 'not json at all' }),
        privacy: () => ({ reset: true }),
      },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assertFailureProblem(res, 502);
    await assertStillServes(gw);
  });

  test('when some upstreams time out and another answers 500, the client gets 502, not 504', async (t) => {
    const hang: Responder = () => ({ hang: true });
    const gw = await startGateway(t, {
      env: { REQUEST_DEADLINE_MS: String(SMALL_DEADLINE_MS) },
      responders: { social: hang, profile: () => ({ status: 500 }), privacy: hang },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assertFailureProblem(res, 502);
    await assertStillServes(gw);
  });

  test('when every upstream times out, the client gets a 504 problem', async (t) => {
    const hang: Responder = () => ({ hang: true });
    const gw = await startGateway(t, {
      env: { REQUEST_DEADLINE_MS: String(SMALL_DEADLINE_MS) },
      responders: { social: hang, profile: hang, privacy: hang },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assertFailureProblem(res, 504);
    await assertStillServes(gw);
  });

  test('when every upstream throttles the caller, the client gets 429 with a whole-second Retry-After at least the upstreams', async (t) => {
    const throttle =
      (seconds: string): Responder =>
      () => ({ status: 429, headers: { 'retry-after': seconds }, body: THROTTLE_BODY });
    const gw = await startGateway(t, {
      responders: { social: throttle('3'), profile: throttle('7'), privacy: throttle('5') },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assertFailureProblem(res, 429);
    const retryAfter = String(res.headers['retry-after']);
    assert.match(retryAfter, /^\d+$/, `Retry-After is whole seconds, got '${retryAfter}'`);
    assert.ok(
      Number(retryAfter) >= 7,
      `Retry-After covers the longest upstream wait (7 s), got ${retryAfter}`,
    );
    await assertStillServes(gw, OTHER_AUTHORIZATION);
  });

  test('when every upstream throttles with an HTTP-date Retry-After, the client Retry-After is whole seconds until that date', async (t) => {
    const retryAt = new Date(Date.now() + 20_000).toUTCString();
    const throttle: Responder = () => ({ status: 429, headers: { 'retry-after': retryAt } });
    const gw = await startGateway(t, {
      responders: { social: throttle, profile: throttle, privacy: throttle },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assertFailureProblem(res, 429);
    const retryAfter = String(res.headers['retry-after']);
    assert.match(retryAfter, /^\d+$/, `Retry-After is whole seconds, got '${retryAfter}'`);
    assert.ok(
      Number(retryAfter) >= 17 && Number(retryAfter) <= 20,
      `Retry-After is the seconds until ${retryAt} (about 19-20), got ${retryAfter}`,
    );
  });

  test('when every upstream throttles without Retry-After, the client gets 429 with Retry-After 1', async (t) => {
    const throttle: Responder = () => ({ status: 429 });
    const gw = await startGateway(t, {
      responders: { social: throttle, profile: throttle, privacy: throttle },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assertFailureProblem(res, 429);
    assert.equal(res.headers['retry-after'], '1', 'an absent upstream Retry-After counts as 1 s');
  });

  for (const upstream of UPSTREAMS) {
    for (const status of [401, 403]) {
      test(`when the ${upstream} upstream answers ${status} to the token, the client gets ${status}`, async (t) => {
        const gw = await startGateway(t, {
          responders: { [upstream]: () => ({ status, body: { error: UPSTREAM_SECRET } }) },
        });

        const res = await gw.getCards(ALL_XUIDS_QUERY);

        assertFailureProblem(res, status);
        assert.ok(!res.text.includes(UPSTREAM_SECRET), 'no upstream body reaches the client');
        assert.ok(!res.text.includes('test-token'), 'the token is not echoed');
      });
    }
  }
});

describe('the request deadline', () => {
  test('when every upstream hangs, a 504 arrives soon after REQUEST_DEADLINE_MS and the gateway keeps serving', async (t) => {
    const hang: Responder = () => ({ hang: true });
    const gw = await startGateway(t, {
      env: { REQUEST_DEADLINE_MS: String(SMALL_DEADLINE_MS) },
      responders: { social: hang, profile: hang, privacy: hang },
    });

    const startedAt = performance.now();
    const res = await gw.getCards(ALL_XUIDS_QUERY);
    const elapsedMs = performance.now() - startedAt;

    assertFailureProblem(res, 504);
    assert.ok(
      elapsedMs >= 250,
      `the gateway waited for the deadline, took ${Math.round(elapsedMs)} ms`,
    );
    assert.ok(
      elapsedMs < 1500,
      `answered soon after the deadline, took ${Math.round(elapsedMs)} ms`,
    );
    assert.equal(gw.upstreams.callsTo('social').length, 1, 'social was called');
    assert.equal(gw.upstreams.callsTo('privacy').length, 1, 'privacy was called');
    await assertStillServes(gw);
  });

  test('when one upstream hangs, the partial answer arrives soon after REQUEST_DEADLINE_MS', async (t) => {
    const gw = await startGateway(t, {
      env: { REQUEST_DEADLINE_MS: String(SMALL_DEADLINE_MS) },
      responders: { profile: () => ({ hang: true }) },
    });

    const startedAt = performance.now();
    const res = await gw.getCards(ALL_XUIDS_QUERY);
    const elapsedMs = performance.now() - startedAt;

    const body = cardsOf(res);
    assert.deepEqual(body.errors, [{ upstream: 'profile', code: 'timeout' }], 'profile timed out');
    assert.ok(
      elapsedMs >= 250,
      `the gateway waited for the deadline, took ${Math.round(elapsedMs)} ms`,
    );
    assert.ok(
      elapsedMs < 1500,
      `answered soon after the deadline, took ${Math.round(elapsedMs)} ms`,
    );
  });

  test('when the upstreams are slow but within REQUEST_DEADLINE_MS, the answer is complete', async (t) => {
    const slow =
      (responder: Responder): Responder =>
      async (call) => ({ ...(await responder(call)), delayMs: 80 });
    const gw = await startGateway(t, {
      env: { REQUEST_DEADLINE_MS: '1000' },
      responders: {
        social: slow(somePeople),
        profile: slow(allProfiles),
        privacy: slow(allowEverything),
      },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    assert.equal(body.partial, false, 'a slow upstream within the deadline is not a failure');
    assert.deepEqual(body.errors, [], 'no errors');
  });
});

describe('real recorded profile answers', () => {
  interface RecordedUser {
    id: string;
    settings: { id: string; value: string }[];
  }
  function readRecorded(name: string): { text: string; users: RecordedUser[] } {
    const text = readFileSync(new URL(name, RECORDED_DIR), 'utf8');
    return { text, users: (JSON.parse(text) as { profileUsers: RecordedUser[] }).profileUsers };
  }
  function recordedValue(users: RecordedUser[], xuid: string, setting: string): string {
    const value = users.find((user) => user.id === xuid)?.settings.find((s) => s.id === setting);
    assert.ok(value, `the recording holds ${setting} of ${xuid}`);
    return value.value;
  }

  test('when the profile upstream answers the recorded batch, values stay strings matched by setting id and extras are dropped', async (t) => {
    const recorded = readRecorded('profile_batch.json');
    const [first, second] = recorded.users.map((user) => user.id) as [string, string];
    // Asked in an order unlike the recording's, so matching by position would give wrong values.
    const settings = [
      'TenureLevel',
      'Watermarks',
      'Gamerscore',
      'AccountTier',
      'PreferredColor',
      'AppDisplayPicRaw',
    ];
    const gw = await startGateway(t, {
      responders: { profile: () => ({ rawBody: recorded.text }) },
    });

    const res = await gw.getCards(`xuids=${second},${first}&settings=${settings.join(',')}`);

    const body = cardsOf(res);
    assert.equal(body.partial, false, 'the real answer is accepted');
    assert.deepEqual(
      body.cards.map((card) => card.xuid),
      [second, first],
      'cards follow the request order, not the recording order',
    );
    for (const card of body.cards) {
      const expected = Object.fromEntries(
        settings.map((setting) => [setting, recordedValue(recorded.users, card.xuid, setting)]),
      );
      assert.equal(card.profileStatus, 'ok', `${card.xuid}: profile served`);
      assert.deepEqual(
        card.profile,
        expected,
        `${card.xuid}: each value is the recorded one for that id`,
      );
      for (const value of Object.values(card.profile)) {
        assert.equal(typeof value, 'string', `${card.xuid}: values stay strings`);
      }
      assert.ok(!('hostId' in card.profile), 'hostId is not a setting');
      assert.ok(!('isSponsoredUser' in card.profile), 'isSponsoredUser is not a setting');
    }
    assert.equal(
      cardOf(body, first).profile?.Gamerscore,
      '98096',
      'Gamerscore stays the string "98096"',
    );
    const profileCall = gw.upstreams.callsTo('profile')[0];
    assert.deepEqual(
      [...((profileCall?.body as ProfileBody | undefined)?.settings ?? [])].sort(),
      [...settings].sort(),
      'the profile upstream was asked for exactly the requested settings',
    );
  });

  test('when the profile upstream answers the recorded single-user read, empty strings and modern gamertags are kept', async (t) => {
    const recorded = readRecorded('profile_by_xuid.json');
    const xuid = recorded.users[0]?.id ?? '';
    const settings = [
      'ModernGamertag',
      'ModernGamertagSuffix',
      'UniqueModernGamertag',
      'RealNameOverride',
      'IsQuarantined',
      'Gamertag',
    ];
    const gw = await startGateway(t, {
      responders: { profile: () => ({ rawBody: recorded.text }) },
    });

    const res = await gw.getCards(`xuids=${xuid}&settings=${settings.join(',')}`);

    const card = cardOf(cardsOf(res), xuid);
    assert.equal(card.profileStatus, 'ok', 'the recorded answer is accepted');
    assert.deepEqual(
      card.profile,
      Object.fromEntries(settings.map((s) => [s, recordedValue(recorded.users, xuid, s)])),
      'every requested setting holds its recorded value',
    );
    assert.equal(card.profile.ModernGamertagSuffix, '', 'an empty suffix stays an empty string');
    assert.equal(card.profile.IsQuarantined, '0', 'IsQuarantined stays the string "0"');
  });

  test('when the recorded answer lacks a requested setting, the profile still holds exactly the requested settings', async (t) => {
    const recorded = readRecorded('profile_by_xuid.json');
    const xuid = recorded.users[0]?.id ?? '';
    const gw = await startGateway(t, {
      responders: { profile: () => ({ rawBody: recorded.text }) },
    });

    const res = await gw.getCards(`xuids=${xuid}&settings=Gamertag,GameDisplayName`);

    const card = cardOf(cardsOf(res), xuid);
    assert.equal(card.profileStatus, 'ok', 'a missing setting does not withhold the profile');
    assert.deepEqual(
      Object.keys(card.profile ?? {}).sort(),
      ['GameDisplayName', 'Gamertag'],
      'the profile holds exactly the requested settings',
    );
    assert.equal(card.profile?.Gamertag, 'e', 'the present setting has its value');
    assert.equal(card.profile.GameDisplayName, null, 'the setting the upstream left out is null');
  });
});

describe('relationships', () => {
  test('when a XUID is absent from people, its relationship is the not-in-collection default', async (t) => {
    const gw = await startGateway(t);

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    assert.deepEqual(
      cardOf(body, STRANGER_XUID).relationship,
      NOT_IN_PEOPLE,
      'a XUID people did not list is not in the collection',
    );
    assert.deepEqual(
      cardOf(body, FAVORITE_XUID).relationship,
      FAVORITE_RELATIONSHIP,
      'a fully described person keeps every member',
    );
  });

  test('when a people entry leaves out isFollowingCaller and socialNetworks, they become false and []', async (t) => {
    const gw = await startGateway(t);

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    assert.deepEqual(
      cardOf(cardsOf(res), BIG_XUID).relationship,
      BIG_XUID_RELATIONSHIP,
      'optional members default to false and an empty list',
    );
  });

  test('when people lists unasked XUIDs, unknown members and a wrong totalCount, only asked XUIDs get relationships', async (t) => {
    const gw = await startGateway(t, {
      responders: {
        social: () => ({
          body: {
            people: [
              { xuid: '1234', isFavorite: true, isFriend: true },
              { xuid: STRANGER_XUID, isFavorite: true, isFriend: true, socialNetworks: ['Steam'] },
            ],
            totalCount: 99,
          },
        }),
      },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    assert.deepEqual(
      body.cards.map((card) => card.xuid),
      [...XUIDS],
      'no card for an XUID that was not asked',
    );
    assert.deepEqual(
      cardOf(body, STRANGER_XUID).relationship,
      {
        inPeopleCollection: true,
        isFavorite: true,
        isFollowingCaller: false,
        socialNetworks: ['Steam'],
      },
      'isFriend is not passed through',
    );
  });
});

describe('profiles and order', () => {
  test('when the profile answer leaves a user out, that card is unavailable without an error entry', async (t) => {
    const gw = await startGateway(t, {
      responders: {
        profile: async (call) => {
          const answer = await allProfiles(call);
          const { profileUsers } = answer.body as { profileUsers: { id: string }[] };
          return {
            body: { profileUsers: profileUsers.filter((user) => user.id !== STRANGER_XUID) },
          };
        },
      },
    });

    const res = await gw.getCards(ALL_XUIDS_QUERY);

    const body = cardsOf(res);
    const card = cardOf(body, STRANGER_XUID);
    assert.equal(card.profileStatus, 'unavailable', 'an omitted user has no profile');
    assert.equal(card.profile, null, 'an omitted user has profile null');
    assert.deepEqual(
      card.permissions,
      { ViewTargetProfile: { isAllowed: true } },
      'permissions kept',
    );
    assert.deepEqual(body.errors, [], 'an unknown user is not an upstream failure');
    assert.equal(body.partial, false, 'an unknown user does not make the answer partial');
    assert.equal(cardOf(body, FAVORITE_XUID).profileStatus, 'ok', 'the other users keep profiles');
  });

  test('when every upstream answers in reverse order, cards stay in request order with each XUID its own data', async (t) => {
    const reversed =
      (responder: Responder, member: string): Responder =>
      async (call) => {
        const answer = await responder(call);
        const body = answer.body as Record<string, unknown[]>;
        return { ...answer, body: { ...body, [member]: [...(body[member] ?? [])].reverse() } };
      };
    const denyBig: Responder = (call) => {
      const { users, permissions } = call.body as PrivacyBody;
      return {
        body: {
          responses: users.map((user) => ({
            user: { xuid: user.xuid },
            permissions: permissions.map(() =>
              user.xuid === BIG_XUID
                ? { isAllowed: false, reasons: [{ reason: 'BlockListRestrictsTarget' }] }
                : { isAllowed: true },
            ),
          })),
        },
      };
    };
    const gw = await startGateway(t, {
      responders: {
        social: reversed(somePeople, 'people'),
        profile: reversed(allProfiles, 'profileUsers'),
        privacy: reversed(denyBig, 'responses'),
      },
    });
    const order = [BIG_XUID, STRANGER_XUID, FAVORITE_XUID];

    const res = await gw.getCards(`xuids=${order.join(',')}`);

    const body = cardsOf(res);
    assert.deepEqual(
      body.cards.map((card) => card.xuid),
      order,
      'cards in request order',
    );
    assert.equal(
      cardOf(body, BIG_XUID).profileStatus,
      'denied',
      'the denial stays on its own card',
    );
    assert.deepEqual(
      cardOf(body, FAVORITE_XUID).profile,
      sampleProfile(FAVORITE_XUID),
      'each profile lands on its own card',
    );
    assert.deepEqual(
      cardOf(body, STRANGER_XUID).profile,
      sampleProfile(STRANGER_XUID),
      'each profile lands on its own card',
    );
    for (const xuid of order) {
      assert.deepEqual(
        cardOf(body, xuid).relationship,
        expectedRelationship(xuid),
        `${xuid}: its own relationship`,
      );
    }
  });

  test('when social and profile answers carry __proto__ and constructor keys, they stay data and nothing is polluted', async (t) => {
    const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();
    const gw = await startGateway(t, {
      responders: {
        social: () => ({
          rawBody: `{"__proto__":{"polluted":"social"},"constructor":{"prototype":{"polluted":"social"}},"people":[{"xuid":"__proto__","isFavorite":true},{"xuid":"${FAVORITE_XUID}","isFavorite":true,"__proto__":{"isFollowingCaller":true,"polluted":"social"}}]}`,
        }),
        profile: (call) => {
          const { userIds } = call.body as ProfileBody;
          const users = userIds.map(
            (id) =>
              `{"id":"${id}","__proto__":{"polluted":"profile"},"settings":[{"id":"__proto__","value":"x"},{"id":"Gamertag","value":"tag of ${id}","constructor":{"prototype":{"polluted":"profile"}}}]}`,
          );
          return {
            rawBody: `{"profileUsers":[{"id":"__proto__","settings":[{"id":"Gamertag","value":"evil"}]},${users.join(',')}]}`,
          };
        },
      },
    });

    const res = await gw.getCards(`${ALL_XUIDS_QUERY}&settings=Gamertag`);

    const body = cardsOf(res);
    assert.equal(
      ({} as Record<string, unknown>).polluted,
      undefined,
      'Object.prototype is not polluted',
    );
    assert.deepEqual(
      Object.getOwnPropertyNames(Object.prototype).sort(),
      prototypeNames,
      'Object.prototype has no new members',
    );
    assert.deepEqual(
      body.cards.map((card) => card.xuid),
      [...XUIDS],
      'no card for __proto__',
    );
    assert.deepEqual(
      cardOf(body, FAVORITE_XUID).relationship,
      { inPeopleCollection: true, isFavorite: true, isFollowingCaller: false, socialNetworks: [] },
      'a __proto__ member does not leak values into the relationship',
    );
    assert.deepEqual(
      cardOf(body, FAVORITE_XUID).profile,
      { Gamertag: `tag of ${FAVORITE_XUID}` },
      'the profile holds only the asked setting, not a __proto__ one',
    );
    assert.ok(!res.text.includes('polluted'), 'no hostile member reaches the client');
    await assertStillServes(gw);
  });
});
