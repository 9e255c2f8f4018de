import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Response } from 'supertest';
import { assertProblemBasics } from '../helpers/assertions.js';
import type { Problem } from '../helpers/assertions.js';
import type { PrivacyBody, ProfileBody, SocialBody } from '../helpers/fake-upstreams.js';
import { DEFAULT_SETTINGS, gatewayFor } from '../helpers/test-app.js';
import type { TestGateway } from '../helpers/test-app.js';

/** The RFC 9457 body the gateway sends for a rejected query. */
interface ValidationProblem extends Problem {
  errors: { parameter: string; message: string }[];
}

/**
 * Asserts a 400 problem that names exactly `parameters` and that no upstream was called.
 * `detail` (when given) is what the detail must say about the problem.
 */
function assertRejected(
  gw: TestGateway,
  res: Response,
  parameters: readonly string[],
  detail?: RegExp,
): ValidationProblem {
  const body = assertProblemBasics(res, 400, 'invalid_query') as ValidationProblem;
  for (const parameter of parameters) {
    assert.ok(body.detail.includes(parameter), `detail names '${parameter}': ${body.detail}`);
  }
  if (detail) assert.match(body.detail, detail, `detail explains the problem: ${body.detail}`);
  assert.equal(body.requestId, res.headers['x-request-id'], 'requestId matches X-Request-Id');
  assert.ok(Array.isArray(body.errors), 'errors is an array');
  assert.deepEqual(
    [...new Set(body.errors.map((issue) => issue.parameter))].sort(),
    [...parameters].sort(),
    'errors names exactly the bad parameters',
  );
  for (const issue of body.errors) {
    assert.equal(typeof issue.message, 'string', 'every issue has a message');
    assert.ok(issue.message.length > 0, 'every issue message is not empty');
  }
  assert.equal(gw.upstreams.calls.length, 0, 'no upstream was called');
  return body;
}

function assertAccepted(res: Response): void {
  assert.equal(res.status, 200, `status is 200, got ${res.status}: ${res.text}`);
}

interface UpstreamBodies {
  social: SocialBody;
  profile: ProfileBody;
  privacy: PrivacyBody;
}

/** The body of the one call `upstream` received. */
function bodyOf<U extends keyof UpstreamBodies>(gw: TestGateway, upstream: U): UpstreamBodies[U] {
  const calls = gw.upstreams.callsTo(upstream);
  assert.equal(calls.length, 1, `${upstream} was called exactly once`);
  return calls[0]!.body as UpstreamBodies[U];
}

describe('xuids validation', () => {
  const rejected: { name: string; query: string; detail?: RegExp }[] = [
    { name: 'is missing', query: '', detail: /required/ },
    { name: 'is missing but other parameters are given', query: 'settings=Gamertag' },
    { name: 'is empty', query: 'xuids=', detail: /empty/ },
    { name: 'has an empty item (1,,2)', query: 'xuids=1,,2', detail: /empty/ },
    { name: 'ends with a comma', query: 'xuids=1,', detail: /empty/ },
    { name: 'has letters', query: 'xuids=12a', detail: /'12a'/ },
    { name: 'is hexadecimal', query: 'xuids=0x1F', detail: /'0x1F'/ },
    { name: 'has a decimal point', query: 'xuids=1.5', detail: /'1\.5'/ },
    { name: 'uses an exponent', query: 'xuids=1e5', detail: /'1e5'/ },
    { name: 'has a space inside an item', query: 'xuids=1,%202', detail: /' 2'/ },
    { name: 'has non-ASCII digits', query: `xuids=${encodeURIComponent('١٢٣')}` },
    { name: 'has full-width digits', query: `xuids=${encodeURIComponent('１２３')}` },
    { name: 'has a NUL byte', query: 'xuids=1%00' },
    { name: 'has a plus sign (+1)', query: 'xuids=%2B1', detail: /'\+1'/ },
    { name: 'has a minus sign (-1)', query: 'xuids=-1', detail: /'-1'/ },
    { name: 'has a leading zero (0123)', query: 'xuids=0123', detail: /'0123'/ },
    { name: 'is zero', query: 'xuids=0', detail: /'0'/ },
    { name: 'has 21 digits', query: `xuids=1${'0'.repeat(20)}` },
    {
      name: 'is 18446744073709551616, one above the 64-bit maximum',
      query: 'xuids=18446744073709551616',
      detail: /18446744073709551616/,
    },
    { name: 'is 99999999999999999999 (20 digits, too large)', query: 'xuids=99999999999999999999' },
    {
      name: 'has 101 distinct XUIDs',
      query: `xuids=${Array.from({ length: 101 }, (_, i) => String(i + 1)).join(',')}`,
      detail: /100/,
    },
    { name: 'is a bad percent escape (%ZZ)', query: 'xuids=%ZZ' },
    { name: 'is array-shaped (?xuids[]=1)', query: 'xuids[]=1' },
    { name: 'is array-shaped with an index (?xuids[0]=1)', query: 'xuids[0]=1' },
    { name: 'is spelled in upper case (?XUIDS=1)', query: 'XUIDS=1' },
  ];

  for (const { name, query, detail } of rejected) {
    test(`when xuids ${name}, the gateway answers 400 naming xuids and calls no upstream`, async (t) => {
      const gw = await gatewayFor(t);

      const res = await gw.getCards(query);

      assertRejected(gw, res, ['xuids'], detail);
    });
  }

  test('when xuids is repeated (?xuids=1&xuids=2), the gateway answers 400 saying xuids must be given once and calls no upstream', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards('xuids=1&xuids=2');

    const body = assertRejected(gw, res, ['xuids']);
    assert.doesNotMatch(
      body.detail,
      /required/,
      `a repeated xuids is present, so the detail must not call it missing: ${body.detail}`,
    );
    assert.match(body.detail, /once/, `detail says xuids must be given once: ${body.detail}`);
  });

  test('when the largest XUID 18446744073709551615 is asked, the gateway accepts it and sends it upstream as the exact string', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards('xuids=18446744073709551615');

    assertAccepted(res);
    const expected = ['18446744073709551615'];
    assert.deepEqual(bodyOf(gw, 'social').xuids, expected, 'social gets the exact string');
    assert.deepEqual(bodyOf(gw, 'profile').userIds, expected, 'profile gets the exact string');
    assert.deepEqual(
      bodyOf(gw, 'privacy').users,
      [{ xuid: '18446744073709551615' }],
      'privacy gets the exact string',
    );
    const cards = (res.body as { cards: { xuid: string }[] }).cards;
    assert.deepEqual(
      cards.map((card) => card.xuid),
      expected,
      'the card carries the exact XUID string',
    );
  });

  test('when a XUID has 20 digits and is at most the maximum, the gateway accepts it', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards('xuids=10000000000000000000,1');

    assertAccepted(res);
    assert.deepEqual(
      bodyOf(gw, 'social').xuids,
      ['10000000000000000000', '1'],
      'both XUIDs reach social unchanged',
    );
  });

  test('when 150 items hold exactly 100 distinct XUIDs, the gateway accepts them and sends the 100 in first-seen order', async (t) => {
    const gw = await gatewayFor(t);
    const distinct = Array.from({ length: 100 }, (_, i) => String(2533274790000000 + i));
    const items = [...distinct, ...distinct.slice(0, 50).reverse()];
    assert.equal(items.length, 150, 'the query has 150 items');

    const res = await gw.getCards(`xuids=${items.join(',')}`);

    assertAccepted(res);
    assert.deepEqual(
      bodyOf(gw, 'social').xuids,
      distinct,
      'social gets the 100 distinct XUIDs in order',
    );
    assert.deepEqual(
      bodyOf(gw, 'profile').userIds,
      distinct,
      'profile gets the 100 distinct XUIDs in order',
    );
    assert.deepEqual(
      bodyOf(gw, 'privacy').users.map((user) => user.xuid),
      distinct,
      'privacy gets the 100 distinct XUIDs in order',
    );
  });

  test('when xuids repeats some ids, the gateway removes the duplicates and keeps request order', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards('xuids=30,10,30,20,10,30');

    assertAccepted(res);
    const expected = ['30', '10', '20'];
    assert.deepEqual(bodyOf(gw, 'social').xuids, expected, 'social body is de-duplicated in order');
    assert.deepEqual(
      bodyOf(gw, 'profile').userIds,
      expected,
      'profile body is de-duplicated in order',
    );
    assert.deepEqual(
      bodyOf(gw, 'privacy').users,
      expected.map((xuid) => ({ xuid })),
      'privacy body is de-duplicated in order',
    );
    const cards = (res.body as { cards: { xuid: string }[] }).cards;
    assert.deepEqual(
      cards.map((card) => card.xuid),
      expected,
      'one card per distinct XUID in request order',
    );
  });
});

describe('settings and permissions validation', () => {
  const rejected: { name: string; query: string; parameter: string; detail?: RegExp }[] = [
    {
      name: 'settings names an unknown setting',
      query: 'xuids=1&settings=Gamertag,ShoeSize',
      parameter: 'settings',
      detail: /'ShoeSize'/,
    },
    {
      name: 'settings is empty',
      query: 'xuids=1&settings=',
      parameter: 'settings',
    },
    {
      name: 'settings has an empty item',
      query: 'xuids=1&settings=Gamertag,,Gamerscore',
      parameter: 'settings',
    },
    {
      name: 'settings is repeated',
      query: 'xuids=1&settings=Gamertag&settings=Gamerscore',
      parameter: 'settings',
      detail: /once/,
    },
    {
      name: 'a setting id has the wrong case (gamertag)',
      query: 'xuids=1&settings=gamertag',
      parameter: 'settings',
      detail: /'gamertag'/,
    },
    {
      name: 'a setting id has surrounding spaces',
      query: 'xuids=1&settings=Gamertag,%20Gamerscore',
      parameter: 'settings',
    },
    {
      name: 'permissions names an unknown permission',
      query: 'xuids=1&permissions=ViewTargetProfile,ReadMinds',
      parameter: 'permissions',
      detail: /'ReadMinds'/,
    },
    {
      name: 'permissions is empty',
      query: 'xuids=1&permissions=',
      parameter: 'permissions',
    },
    {
      name: 'permissions is repeated',
      query: 'xuids=1&permissions=ViewTargetProfile&permissions=PlayMultiplayer',
      parameter: 'permissions',
      detail: /once/,
    },
    {
      name: 'a permission id has the wrong case (viewtargetprofile)',
      query: 'xuids=1&permissions=viewtargetprofile',
      parameter: 'permissions',
      detail: /'viewtargetprofile'/,
    },
    {
      name: 'a permission id is a prototype key (__proto__)',
      query: 'xuids=1&permissions=__proto__',
      parameter: 'permissions',
    },
    {
      name: 'a setting id is a prototype key (constructor)',
      query: 'xuids=1&settings=constructor',
      parameter: 'settings',
    },
  ];

  for (const { name, query, parameter, detail } of rejected) {
    test(`when ${name}, the gateway answers 400 naming ${parameter} and calls no upstream`, async (t) => {
      const gw = await gatewayFor(t);

      const res = await gw.getCards(query);

      assertRejected(gw, res, [parameter], detail);
    });
  }

  test('when xuids, settings and permissions are all bad, the 400 names each of them and calls no upstream', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards('xuids=0123&settings=Nope&permissions=Nope');

    assertRejected(gw, res, ['xuids', 'settings', 'permissions']);
  });

  test('when settings and permissions are absent, the upstreams are asked the default settings and ViewTargetProfile', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards('xuids=2533274791381930');

    assertAccepted(res);
    assert.deepEqual(
      bodyOf(gw, 'profile'),
      { userIds: ['2533274791381930'], settings: DEFAULT_SETTINGS },
      'profile is asked exactly the four default settings',
    );
    assert.deepEqual(
      bodyOf(gw, 'privacy'),
      { users: [{ xuid: '2533274791381930' }], permissions: ['ViewTargetProfile'] },
      'privacy is asked exactly ViewTargetProfile',
    );
    assert.deepEqual(
      bodyOf(gw, 'social'),
      { xuids: ['2533274791381930'] },
      'social is sent only the xuids member',
    );
  });

  test('when settings and permissions are given, the upstreams are asked exactly those, de-duplicated in request order', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards(
      'xuids=1&settings=Gamertag,Bio,Gamertag,AccountTier&permissions=PlayMultiplayer,ViewTargetProfile,PlayMultiplayer',
    );

    assertAccepted(res);
    assert.deepEqual(
      bodyOf(gw, 'profile').settings,
      ['Gamertag', 'Bio', 'AccountTier'],
      'profile is asked the requested settings, de-duplicated, in request order',
    );
    assert.deepEqual(
      bodyOf(gw, 'privacy').permissions,
      ['PlayMultiplayer', 'ViewTargetProfile'],
      'privacy is asked the requested permissions, de-duplicated, in request order',
    );
  });

  test('when permissions omit ViewTargetProfile, privacy is still asked ViewTargetProfile besides the asked ones', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards('xuids=1&permissions=CommunicateUsingText');

    assertAccepted(res);
    const permissions = bodyOf(gw, 'privacy').permissions;
    assert.ok(permissions.includes('CommunicateUsingText'), 'the asked permission is checked');
    assert.ok(permissions.includes('ViewTargetProfile'), 'ViewTargetProfile is always checked');
    assert.equal(permissions.length, 2, 'nothing else is checked');
  });

  test('when every known setting and permission is asked, the gateway accepts them all', async (t) => {
    const gw = await gatewayFor(t);
    const settings = [
      ...DEFAULT_SETTINGS,
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
    ];
    const permissions = [
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
    ];

    const res = await gw.getCards(
      `xuids=1&settings=${settings.join(',')}&permissions=${permissions.join(',')}`,
    );

    assertAccepted(res);
    assert.deepEqual(bodyOf(gw, 'profile').settings, settings, 'profile is asked every setting');
    assert.deepEqual(
      bodyOf(gw, 'privacy').permissions,
      permissions,
      'privacy is asked every permission',
    );
  });
});

describe('other query parameters', () => {
  test('when the query carries unknown parameters, the gateway ignores them and forwards none of them', async (t) => {
    const gw = await gatewayFor(t);

    const res = await gw.getCards(
      'xuids=1&method=add&foo=bar&callback=evil&__proto__=x&constructor=y',
    );

    assertAccepted(res);
    assert.equal(gw.upstreams.calls.length, 3, 'each upstream is called once');
    for (const call of gw.upstreams.calls) {
      assert.ok(
        !call.url.includes('?'),
        `${call.upstream} is called without a query string: ${call.url}`,
      );
      const text = JSON.stringify(call.body);
      for (const marker of [
        'method',
        'add',
        'foo',
        'bar',
        'callback',
        'evil',
        '"9"',
        '__proto__',
      ]) {
        assert.ok(
          !text.includes(marker),
          `${call.upstream} body does not carry '${marker}': ${text}`,
        );
      }
      for (const value of Object.values(call.headers)) {
        assert.ok(
          !String(value).includes('evil') && !String(value).includes('bar'),
          `${call.upstream} headers carry no client query value`,
        );
      }
    }
    assert.deepEqual(bodyOf(gw, 'social'), { xuids: ['1'] }, 'social is asked only XUID 1');
  });
});

describe('array-shaped known parameters', () => {
  for (const query of [
    'xuids=1&xuids[]=2',
    'xuids=1&settings[]=Gamertag',
    'xuids=1&permissions[0]=ViewTargetProfile',
  ]) {
    test(`when the query is '${query}', the gateway answers 400 naming the parameter and calls no upstream`, async (t) => {
      const gw = await gatewayFor(t);
      const name = /&(\w+)\[/.exec(query)?.[1];

      const response = await gw.getCards(query);

      assert.equal(response.status, 400, 'an array-shaped known parameter is a bad request');
      assert.deepEqual(
        (response.body as { errors: { parameter: string }[] }).errors.map((e) => e.parameter),
        [name],
        'the problem names the array-shaped parameter',
      );
      assert.equal(gw.upstreams.calls.length, 0, 'no upstream is called');
    });
  }
});
