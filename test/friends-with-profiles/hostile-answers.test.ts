import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Response } from 'supertest';
import { cardsOf, sampleProfile } from '../helpers/assertions.js';
import { sampleSetting } from '../helpers/fake-upstreams.js';
import type { PrivacyBody, ProfileBody, SocialBody } from '../helpers/fake-upstreams.js';
import { XUIDS, gatewayFor } from '../helpers/test-app.js';

const [X1, X2] = XUIDS;

/** Keys that would reach a prototype if an answer were merged into an object key by key. */
const HOSTILE = `"__proto__":{"polluted":"proto","isAllowed":true,"value":"proto"},"constructor":{"prototype":{"polluted":"constructor"}}`;

/** Asserts that nothing of a hostile answer reached a prototype or the response text. */
function assertNoPollution(res: Response): void {
  assert.equal(
    ({} as Record<string, unknown>).polluted,
    undefined,
    'Object.prototype should not gain a member',
  );
  assert.equal(
    Object.getPrototypeOf({}),
    Object.prototype,
    'a plain object should keep its prototype',
  );
  assert.doesNotMatch(
    res.text,
    /__proto__|constructor|polluted/,
    'no hostile key reaches the client',
  );
}

describe('hostile upstream answers', () => {
  test('when the profile answer carries __proto__ and constructor keys on the answer, the users, the setting entries and as setting ids, the asked settings are served and nothing else', async (t) => {
    const profile = (call: { body: unknown }) => {
      const { userIds, settings } = call.body as ProfileBody;
      const users = userIds.map((id) => {
        const entries = [
          `{"id":"__proto__","value":"x"}`,
          `{"id":"constructor","value":{"prototype":{"polluted":"setting"}}}`,
          `{"id":"__proto__","value":{"polluted":"setting"}}`,
          `{"id":"constructor"}`,
          `{"id":"prototype","value":null}`,
          ...settings.map(
            (setting) => `{${HOSTILE},"id":"${setting}","value":"${sampleSetting(id, setting)}"}`,
          ),
        ];
        return `{${HOSTILE},"id":"${id}","hostId":"${id}","settings":[${entries.join(',')}]}`;
      });
      const hostileUser = `{"id":"__proto__","settings":[{"id":"Gamertag","value":"intruder"}]}`;
      return {
        rawBody: `{${HOSTILE},"profileUsers":[${hostileUser},${users.join(',')}]}`,
      };
    };
    const gw = await gatewayFor(t, { responders: { profile } });

    const first = await gw.getCards(`xuids=${X1},${X2}`);
    const cached = await gw.getCards(`xuids=${X1},${X2}`);

    for (const [name, res] of [
      ['the first answer', first],
      ['the answer from cache', cached],
    ] as const) {
      const body = cardsOf(res);
      assert.deepEqual(
        body.cards.map((card) => [card.profileStatus, card.profile]),
        [
          ['ok', sampleProfile(X1)],
          ['ok', sampleProfile(X2)],
        ],
        `${name} should hold exactly the asked settings of each user`,
      );
      assert.equal(body.partial, false, `${name} should not be partial`);
      assert.deepEqual(body.errors, [], `${name} should list no failed part`);
      assertNoPollution(res);
    }
    assert.equal(
      gw.upstreams.callsTo('profile').length,
      1,
      'the asked settings should have been cached: the second request calls no profile upstream',
    );
  });

  test('when the social answer carries __proto__ and constructor keys on the answer and the people, the relationships are as sent and nothing else', async (t) => {
    const social = (call: { body: unknown }) => {
      const { xuids } = call.body as SocialBody;
      const people = xuids.map(
        (xuid) =>
          `{${HOSTILE},"xuid":"${xuid}","isFavorite":true,"isFollowingCaller":false,"socialNetworks":["LegacyXboxLive"]}`,
      );
      const hostilePerson = `{"xuid":"__proto__","isFavorite":true}`;
      return {
        rawBody: `{${HOSTILE},"people":[${hostilePerson},${people.join(',')}],"totalCount":3}`,
      };
    };
    const gw = await gatewayFor(t, { responders: { social } });

    const res = await gw.getCards(`xuids=${X1},${X2}`);

    const body = cardsOf(res);
    const relationship = {
      inPeopleCollection: true,
      isFavorite: true,
      isFollowingCaller: false,
      socialNetworks: ['LegacyXboxLive'],
    };
    assert.deepEqual(
      body.cards.map((card) => card.relationship),
      [relationship, relationship],
      'each card should carry exactly the relationship members of the contract',
    );
    assert.deepEqual(
      body.cards.map((card) => card.profileStatus),
      ['ok', 'ok'],
      'the profiles should be served',
    );
    assert.equal(body.partial, false, 'the answer should not be partial');
    assertNoPollution(res);
  });

  test('when the privacy answer carries __proto__ and constructor keys on the answer, the entries, the users, the results and the reasons, the permissions are as sent and nothing else', async (t) => {
    const privacy = (call: { body: unknown }) => {
      const { users, permissions } = call.body as PrivacyBody;
      const responses = users.map((user) => {
        const results = permissions.map((permission) =>
          permission === 'ViewTargetProfile'
            ? `{${HOSTILE},"isAllowed":true}`
            : `{${HOSTILE},"isAllowed":false,"reasons":[{${HOSTILE},"reason":"PrivacySettingRestrictsTarget","restrictedSetting":"ShareProfile"}]}`,
        );
        return `{${HOSTILE},"user":{${HOSTILE},"xuid":"${user.xuid}"},"permissions":[${results.join(',')}]}`;
      });
      const hostileEntry = `{"user":{"xuid":"__proto__"},"permissions":[{"isAllowed":false}]}`;
      return { rawBody: `{${HOSTILE},"responses":[${hostileEntry},${responses.join(',')}]}` };
    };
    const gw = await gatewayFor(t, { responders: { privacy } });

    const res = await gw.getCards(
      `xuids=${X1},${X2}&permissions=ViewTargetProfile,CommunicateUsingText`,
    );

    const body = cardsOf(res);
    const permissions = {
      ViewTargetProfile: { isAllowed: true },
      CommunicateUsingText: {
        isAllowed: false,
        reasons: [{ reason: 'PrivacySettingRestrictsTarget', restrictedSetting: 'ShareProfile' }],
      },
    };
    assert.deepEqual(
      body.cards.map((card) => card.permissions),
      [permissions, permissions],
      'each card should carry exactly the permission members of the contract',
    );
    assert.deepEqual(
      body.cards.map((card) => [card.profileStatus, card.profile]),
      [
        ['ok', sampleProfile(X1)],
        ['ok', sampleProfile(X2)],
      ],
      'ViewTargetProfile allowed: the profiles should be served',
    );
    assert.equal(body.partial, false, 'the answer should not be partial');
    assertNoPollution(res);
  });

  test('when an asked setting itself has a wrong shape, the profile part is still bad_response', async (t) => {
    const profile = (call: { body: unknown }) => {
      const { userIds } = call.body as ProfileBody;
      const users = userIds.map((id) => `{"id":"${id}","settings":[{"id":"Gamertag","value":5}]}`);
      return { rawBody: `{"profileUsers":[${users.join(',')}]}` };
    };
    const gw = await gatewayFor(t, { responders: { profile } });

    const res = await gw.getCards(`xuids=${X1}&settings=Gamertag`);

    const body = cardsOf(res);
    assert.equal(
      body.cards[0]?.profileStatus,
      'unavailable',
      'no trustworthy profile: unavailable',
    );
    assert.deepEqual(
      body.errors,
      [{ upstream: 'profile', code: 'bad_response' }],
      'a wrong shape where the gateway reads is a bad response',
    );
  });
});
