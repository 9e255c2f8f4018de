import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { asCardsResult, assertProblem, sampleProfile } from '../helpers/assertions.js';
import {
  allProfiles,
  allowEverything,
  denyProfileTo,
  sampleSetting,
} from '../helpers/fake-upstreams.js';
import type {
  FakeResponse,
  ProfileBody,
  RecordedCall,
  Responder,
} from '../helpers/fake-upstreams.js';
import {
  AUTHORIZATION,
  DEFAULT_SETTINGS,
  OTHER_AUTHORIZATION,
  XUIDS,
  startTestGateway,
} from '../helpers/test-app.js';

const [X1, X2, X3] = XUIDS;
const TTL_MS = 60_000;
const STALE_MS = 600_000;
/** Far from zero, as `performance.now()` is in a running process. */
const START_MS = 1_000_000;

/** Cache timing every clock-driven test here uses, so the numbers below read plainly. */
const CACHE_ENV = {
  PROFILE_CACHE_TTL_MS: String(TTL_MS),
  PROFILE_CACHE_STALE_MS: String(STALE_MS),
  // A failing fetch fails once: retries and the breaker have their own tests.
  UPSTREAM_RETRIES: '0',
  BREAKER_FAILURE_THRESHOLD: '1000',
};

/** A settable clock for the gateway's profile cache. */
function createClock() {
  let nowMs = START_MS;
  return {
    now: () => nowMs,
    advanceTo: (ms: number) => {
      nowMs = ms;
    },
  };
}

function profileBody(call: RecordedCall | undefined): ProfileBody {
  assert.ok(call, 'a profile call should have been recorded');
  return call.body as ProfileBody;
}

/** Every (XUID, setting) pair that the recorded profile calls asked for, as `xuid:setting`. */
function askedPairs(calls: readonly RecordedCall[]): string[] {
  return calls
    .flatMap((call) => {
      const { userIds, settings } = profileBody(call);
      return userIds.flatMap((xuid) => settings.map((setting) => `${xuid}:${setting}`));
    })
    .sort();
}

/** Profile responder whose values carry a version, so a refetch is visible in the answer. */
function versionedProfiles(version: () => number): Responder {
  return (call) => {
    const { userIds, settings } = call.body as ProfileBody;
    return {
      body: {
        profileUsers: userIds.map((id) => ({
          id,
          settings: settings.map((setting) => ({ id: setting, value: `${setting} v${version()}` })),
        })),
      },
    };
  };
}

describe('profile cache: what goes upstream', () => {
  test('when the same request comes twice, the second makes no profile call but asks social and privacy again', async (t) => {
    const gw = await startTestGateway();
    t.after(() => gw.close());
    const query = `xuids=${X1},${X2}`;
    const first = await gw.getCards(query);
    assert.equal(first.status, 200, 'precondition: the first request should succeed');

    const second = await gw.getCards(query);

    assert.equal(second.status, 200, 'the second request should succeed');
    assert.equal(
      gw.upstreams.callsTo('profile').length,
      1,
      'only the first request should call profile',
    );
    assert.equal(gw.upstreams.callsTo('social').length, 2, 'people answers should never be cached');
    assert.equal(
      gw.upstreams.callsTo('privacy').length,
      2,
      'privacy answers should never be cached',
    );
    const body = asCardsResult(second.body);
    assert.deepEqual(
      body.cards.map((card) => card.profile),
      [sampleProfile(X1), sampleProfile(X2)],
      'the cached profiles should be served',
    );
    assert.deepEqual(
      body.cards.map((card) => card.profileStatus),
      ['ok', 'ok'],
      'cached profiles should have profileStatus ok',
    );
    assert.equal(body.partial, false, 'an answer served from cache should not be partial');
  });

  test('when every asked pair is fresh, a narrower request makes no profile call at all', async (t) => {
    const gw = await startTestGateway();
    t.after(() => gw.close());
    await gw.getCards(`xuids=${X1},${X2},${X3}`);

    const response = await gw.getCards(`xuids=${X3},${X1}&settings=Gamertag`);

    assert.equal(
      gw.upstreams.callsTo('profile').length,
      1,
      'no second profile call should be made',
    );
    assert.deepEqual(
      asCardsResult(response.body).cards.map((card) => card.profile),
      [sampleProfile(X3, ['Gamertag']), sampleProfile(X1, ['Gamertag'])],
      'each card should hold exactly the asked setting from cache',
    );
  });

  test('when a request adds settings for the same XUIDs, only the new settings go upstream', async (t) => {
    const gw = await startTestGateway();
    t.after(() => gw.close());
    await gw.getCards(`xuids=${X1},${X2}&settings=Gamertag`);

    const response = await gw.getCards(`xuids=${X1},${X2}&settings=Gamertag,Gamerscore,Bio`);

    const calls = gw.upstreams.callsTo('profile');
    assert.equal(calls.length, 2, 'the superset request should make one profile call');
    const body = profileBody(calls[1]);
    assert.deepEqual([...body.userIds].sort(), [X1, X2].sort(), 'both XUIDs miss the new settings');
    assert.deepEqual(
      [...body.settings].sort(),
      ['Bio', 'Gamerscore'],
      'only the settings not cached yet should be asked',
    );
    assert.deepEqual(
      asCardsResult(response.body).cards.map((card) => card.profile),
      [
        sampleProfile(X1, ['Gamertag', 'Gamerscore', 'Bio']),
        sampleProfile(X2, ['Gamertag', 'Gamerscore', 'Bio']),
      ],
      'cached and fetched settings should merge into one profile per card',
    );
  });

  test('when a request adds XUIDs with the same settings, only the new XUIDs go upstream', async (t) => {
    const gw = await startTestGateway();
    t.after(() => gw.close());
    await gw.getCards(`xuids=${X1}`);

    const response = await gw.getCards(`xuids=${X1},${X2},${X3}`);

    const calls = gw.upstreams.callsTo('profile');
    assert.equal(calls.length, 2, 'the superset request should make one profile call');
    const body = profileBody(calls[1]);
    assert.deepEqual(
      [...body.userIds].sort(),
      [X2, X3].sort(),
      'only uncached XUIDs should be asked',
    );
    assert.deepEqual(
      [...body.settings].sort(),
      [...DEFAULT_SETTINGS].sort(),
      'settings should be the asked ones',
    );
    assert.deepEqual(
      asCardsResult(response.body).cards.map((card) => card.profileStatus),
      ['ok', 'ok', 'ok'],
      'every card should have its profile',
    );
  });

  test('when a request adds both XUIDs and settings, no fresh (XUID, setting) pair goes upstream', async (t) => {
    const gw = await startTestGateway();
    t.after(() => gw.close());
    await gw.getCards(`xuids=${X1}&settings=Gamertag`);

    const response = await gw.getCards(`xuids=${X1},${X2}&settings=Gamertag,Gamerscore`);

    assert.equal(response.status, 200, 'the superset request should succeed');
    assert.deepEqual(
      askedPairs(gw.upstreams.callsTo('profile').slice(1)),
      [`${X1}:Gamerscore`, `${X2}:Gamerscore`, `${X2}:Gamertag`].sort(),
      `exactly the three missing pairs should go upstream, not the fresh ${X1}:Gamertag`,
    );
  });

  test('when a setting is omitted by the profile upstream, it is null in the profile and asked again next time', async (t) => {
    const omitBio: Responder = (call) => {
      const { userIds, settings } = call.body as ProfileBody;
      return {
        body: {
          profileUsers: userIds.map((id) => ({
            id,
            settings: settings
              .filter((setting) => !(id === X1 && setting === 'Bio'))
              .map((setting) => ({ id: setting, value: sampleSetting(id, setting) })),
          })),
        },
      };
    };
    const gw = await startTestGateway({ responders: { profile: omitBio } });
    t.after(() => gw.close());
    const query = `xuids=${X1},${X2}&settings=Gamertag,Bio`;
    const first = await gw.getCards(query);

    const second = await gw.getCards(query);

    const firstCard = asCardsResult(first.body).cards[0];
    assert.equal(
      firstCard?.profileStatus,
      'ok',
      'a user with one omitted setting still has a profile',
    );
    assert.deepEqual(
      firstCard.profile,
      { Gamertag: sampleSetting(X1, 'Gamertag'), Bio: null },
      'the omitted setting should be null',
    );
    const calls = gw.upstreams.callsTo('profile');
    assert.equal(calls.length, 2, 'the omitted setting should not be cached, so it is asked again');
    assert.deepEqual(
      profileBody(calls[1]).userIds,
      [X1],
      'only the XUID missing a setting should be asked',
    );
    assert.deepEqual(
      profileBody(calls[1]).settings,
      ['Bio'],
      'only the omitted setting should be asked',
    );
    assert.deepEqual(
      asCardsResult(second.body).cards.map((card) => card.profile),
      [
        { Gamertag: sampleSetting(X1, 'Gamertag'), Bio: null },
        { Gamertag: sampleSetting(X2, 'Gamertag'), Bio: sampleSetting(X2, 'Bio') },
      ],
      'the second answer should match the first',
    );
  });

  test('when the profile upstream slips in data for XUIDs and settings not asked, none of it is cached', async (t) => {
    const withExtras: Responder = (call) => {
      const { userIds, settings } = call.body as ProfileBody;
      const users = [...userIds, X3].map((id) => ({
        id,
        settings: [...settings, 'Bio'].map((setting) => ({
          id: setting,
          value: `slipped ${sampleSetting(id, setting)}`,
        })),
      }));
      return { body: { profileUsers: users } };
    };
    const gw = await startTestGateway({ responders: { profile: withExtras } });
    t.after(() => gw.close());
    await gw.getCards(`xuids=${X1}&settings=Gamertag`);
    gw.upstreams.respond('profile', allProfiles);

    const unaskedXuid = await gw.getCards(`xuids=${X3}&settings=Gamertag`);
    const unaskedSetting = await gw.getCards(`xuids=${X1}&settings=Bio`);

    const calls = gw.upstreams.callsTo('profile');
    assert.equal(calls.length, 3, 'both follow-up requests should have to call profile');
    assert.deepEqual(
      profileBody(calls[1]).userIds,
      [X3],
      'the unasked XUID should not have been cached',
    );
    assert.deepEqual(
      profileBody(calls[2]).settings,
      ['Bio'],
      'the unasked setting should not have been cached',
    );
    assert.deepEqual(
      asCardsResult(unaskedXuid.body).cards[0]?.profile,
      { Gamertag: sampleSetting(X3, 'Gamertag') },
      'the profile should come from the fresh answer, not the slipped-in data',
    );
    assert.deepEqual(
      asCardsResult(unaskedSetting.body).cards[0]?.profile,
      { Bio: sampleSetting(X1, 'Bio') },
      'the setting should come from the fresh answer, not the slipped-in data',
    );
  });
});

describe('profile cache: TTL and stale-if-error', () => {
  test('when the TTL has not passed the profile is served from cache, and once it has it is fetched anew', async (t) => {
    const clock = createClock();
    let version = 1;
    const gw = await startTestGateway({
      env: CACHE_ENV,
      now: clock.now,
      responders: { profile: versionedProfiles(() => version) },
    });
    t.after(() => gw.close());
    await gw.getCards(`xuids=${X1}&settings=Gamertag`);
    version = 2;

    clock.advanceTo(START_MS + TTL_MS - 1);
    const beforeTtl = await gw.getCards(`xuids=${X1}&settings=Gamertag`);
    clock.advanceTo(START_MS + TTL_MS + 1);
    const afterTtl = await gw.getCards(`xuids=${X1}&settings=Gamertag`);

    assert.deepEqual(
      asCardsResult(beforeTtl.body).cards[0]?.profile,
      { Gamertag: 'Gamertag v1' },
      'just before the TTL the cached value should be served',
    );
    assert.equal(
      gw.upstreams.callsTo('profile').length,
      2,
      'only the request after the TTL should refetch',
    );
    assert.deepEqual(
      asCardsResult(afterTtl.body).cards[0]?.profile,
      { Gamertag: 'Gamertag v2' },
      'after the TTL the new upstream value should be served',
    );
  });

  test('when only some XUIDs have passed their TTL, only those go upstream', async (t) => {
    const clock = createClock();
    const gw = await startTestGateway({ env: CACHE_ENV, now: clock.now });
    t.after(() => gw.close());
    await gw.getCards(`xuids=${X1}`);
    clock.advanceTo(START_MS + TTL_MS / 2);
    await gw.getCards(`xuids=${X2}`);

    clock.advanceTo(START_MS + TTL_MS + 1);
    const response = await gw.getCards(`xuids=${X1},${X2}`);

    const calls = gw.upstreams.callsTo('profile');
    assert.equal(calls.length, 3, 'the third request should make one profile call');
    assert.deepEqual(
      profileBody(calls[2]).userIds,
      [X1],
      'only the XUID past its TTL should be asked',
    );
    assert.deepEqual(
      asCardsResult(response.body).cards.map((card) => card.profileStatus),
      ['ok', 'ok'],
      'both cards should have profiles',
    );
  });

  const failures: { name: string; answer: FakeResponse; env?: Record<string, string> }[] = [
    { name: 'answers 500', answer: { status: 500 } },
    { name: 'answers 429', answer: { status: 429, headers: { 'retry-after': '1' } } },
    {
      name: 'hangs past the deadline',
      answer: { hang: true },
      env: { REQUEST_DEADLINE_MS: '200' },
    },
  ];
  for (const failure of failures) {
    test(`when the profile upstream ${failure.name} within the stale window, the stale profile is served as ok and not partial`, async (t) => {
      const clock = createClock();
      const gw = await startTestGateway({ env: { ...CACHE_ENV, ...failure.env }, now: clock.now });
      t.after(() => gw.close());
      await gw.getCards(`xuids=${X1},${X2}`);
      gw.upstreams.respond('profile', () => failure.answer);

      clock.advanceTo(START_MS + TTL_MS + 1);
      const response = await gw.getCards(`xuids=${X1},${X2}`);

      assert.equal(response.status, 200, 'the request should succeed');
      assert.equal(
        gw.upstreams.callsTo('profile').length,
        2,
        'the stale profiles should be fetched anew first',
      );
      const body = asCardsResult(response.body);
      assert.deepEqual(
        body.cards.map((card) => card.profileStatus),
        ['ok', 'ok'],
        'stale-if-error should give profileStatus ok',
      );
      assert.deepEqual(
        body.cards.map((card) => card.profile),
        [sampleProfile(X1), sampleProfile(X2)],
        'the stale values should be served',
      );
      assert.equal(
        body.partial,
        false,
        'serving from cache while the upstream fails is not partial',
      );
      assert.deepEqual(body.errors, [], 'no error should be listed when the stale value covers it');
    });
  }

  const rejections = [
    { status: 401, code: 'upstream_unauthorized' },
    { status: 403, code: 'upstream_forbidden' },
  ] as const;
  for (const { status, code } of rejections) {
    test(`when the profile upstream rejects the token with ${status} within the stale window, the stale profile is not served and the request answers ${status}`, async (t) => {
      const clock = createClock();
      const gw = await startTestGateway({ env: CACHE_ENV, now: clock.now });
      t.after(() => gw.close());
      const warm = await gw.getCards(`xuids=${X1},${X2}`);
      assert.equal(warm.status, 200, 'precondition: the first request should fill the cache');
      gw.upstreams.respond('profile', () => ({ status, body: { code: 'token-rejected' } }));

      clock.advanceTo(START_MS + TTL_MS + 1);
      const response = await gw.getCards(`xuids=${X1},${X2}`);

      assertProblem(response, status, code);
      const calls = gw.upstreams.callsTo('profile');
      assert.equal(calls.length, 2, 'the stale profiles should be fetched anew once, not retried');
      assert.deepEqual(
        [...profileBody(calls[1]).userIds].sort(),
        [X1, X2].sort(),
        'the refetch should ask both stale XUIDs',
      );
      assert.equal(
        calls[1]?.headers.authorization,
        AUTHORIZATION,
        "the refetch should carry the caller's own token",
      );
      assert.ok(
        !response.text.includes(sampleSetting(X1, 'Gamertag')),
        'no stale profile value should reach a caller whose token was rejected',
      );
      assert.equal(gw.upstreams.callsTo('social').length, 2, 'social should be asked each time');
      assert.equal(gw.upstreams.callsTo('privacy').length, 2, 'privacy should be asked each time');
    });
  }

  test('when the stale window has passed too and the profile upstream fails, the profile is unavailable and the answer partial', async (t) => {
    const clock = createClock();
    const gw = await startTestGateway({ env: CACHE_ENV, now: clock.now });
    t.after(() => gw.close());
    await gw.getCards(`xuids=${X1}`);
    gw.upstreams.respond('profile', () => ({ status: 500 }));
    clock.advanceTo(START_MS + TTL_MS + 1);
    const withinWindow = await gw.getCards(`xuids=${X1}`);
    assert.equal(
      asCardsResult(withinWindow.body).cards[0]?.profileStatus,
      'ok',
      'precondition: within the stale window the stale value should be served',
    );

    clock.advanceTo(START_MS + TTL_MS + STALE_MS + 1);
    const response = await gw.getCards(`xuids=${X1}`);

    assert.equal(
      response.status,
      200,
      'social and privacy still answered, so the request succeeds',
    );
    const body = asCardsResult(response.body);
    assert.equal(body.cards[0]?.profileStatus, 'unavailable', 'no trustworthy profile is left');
    assert.equal(body.cards[0].profile, null, 'the expired value should not be served');
    assert.equal(body.partial, true, 'a missing profile part should make the answer partial');
    assert.deepEqual(
      body.errors,
      [{ upstream: 'profile', code: 'unavailable', status: 500 }],
      'the failed profile upstream should be listed',
    );
  });
});

describe('profile cache: privacy is per caller', () => {
  test('when a second caller is denied by their own privacy check, the cached profile is not shown to them', async (t) => {
    const privacyByCaller: Responder = (call) =>
      call.headers.authorization === OTHER_AUTHORIZATION
        ? denyProfileTo([X1])(call)
        : allowEverything(call);
    const gw = await startTestGateway({ responders: { privacy: privacyByCaller } });
    t.after(() => gw.close());
    const first = await gw.getCards(`xuids=${X1},${X2}`, AUTHORIZATION);
    assert.deepEqual(
      asCardsResult(first.body).cards.map((card) => card.profileStatus),
      ['ok', 'ok'],
      'precondition: the first caller sees both profiles',
    );

    const second = await gw.getCards(`xuids=${X1},${X2}`, OTHER_AUTHORIZATION);

    assert.equal(
      gw.upstreams.callsTo('profile').length,
      1,
      'the second caller should be served from cache',
    );
    const privacyCalls = gw.upstreams.callsTo('privacy');
    assert.equal(privacyCalls.length, 2, 'the second caller should get their own privacy check');
    assert.equal(
      privacyCalls[1]?.headers.authorization,
      OTHER_AUTHORIZATION,
      "the privacy check should run under the second caller's token",
    );
    const [denied, allowed] = asCardsResult(second.body).cards;
    assert.equal(denied?.profileStatus, 'denied', 'privacy said no to the second caller');
    assert.equal(denied.profile, null, 'a cached profile should not leak past a denial');
    assert.equal(allowed?.profileStatus, 'ok', 'the allowed XUID should be served from cache');
    assert.deepEqual(allowed.profile, sampleProfile(X2), 'the cached profile should be shown');
  });

  test("when a second caller's privacy check fails, the cached profile is not shown to them", async (t) => {
    const privacyByCaller: Responder = (call) =>
      call.headers.authorization === OTHER_AUTHORIZATION ? { status: 500 } : allowEverything(call);
    const gw = await startTestGateway({ responders: { privacy: privacyByCaller } });
    t.after(() => gw.close());
    await gw.getCards(`xuids=${X1}`, AUTHORIZATION);

    const second = await gw.getCards(`xuids=${X1}`, OTHER_AUTHORIZATION);

    assert.equal(second.status, 200, 'social and profile still answered, so the request succeeds');
    const body = asCardsResult(second.body);
    assert.equal(body.cards[0]?.profileStatus, 'unavailable', 'privacy fails closed');
    assert.equal(body.cards[0].profile, null, 'no privacy answer means no profile, cached or not');
    assert.equal(body.partial, true, 'the missing privacy part should make the answer partial');
  });
});

describe('profile cache: byte bound', () => {
  test('when many XUIDs are fetched into a small cache, its bytes stay within PROFILE_CACHE_MAX_BYTES', async (t) => {
    const maxBytes = 2048;
    const gw = await startTestGateway({ env: { PROFILE_CACHE_MAX_BYTES: String(maxBytes) } });
    t.after(() => gw.close());
    const xuids = Array.from({ length: 100 }, (_, index) =>
      String(2533274800000000n + BigInt(index)),
    );

    const response = await gw.getCards(`xuids=${xuids.join(',')}`);

    assert.equal(response.status, 200, 'the request should succeed');
    assert.ok(
      asCardsResult(response.body).cards.every((card) => card.profileStatus === 'ok'),
      'every card should have its profile even though the cache cannot hold them all',
    );
    const size = gw.deps.cache.size();
    assert.ok(size.bytes <= maxBytes, `cache bytes (${size.bytes}) should stay within ${maxBytes}`);
    assert.ok(size.entries > 0, 'the cache should still hold some entries');
    assert.ok(
      size.entries < xuids.length * DEFAULT_SETTINGS.length,
      'some entries should be evicted',
    );
  });
});
